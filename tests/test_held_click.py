"""A held click: SAM decodes while the button is down; the answer waits for the release."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint

from core.io.event_log import read_events
from core.prompting.prompt_set import PromptSet
from desktop.inference_worker import InferenceWorker
from tests.test_main_window import LEFT, open_window, view_pos, wait_for_timesteps


def held_answer(controller):
    """The anticipated decode's held state (the test waits on it: the worker has answered)."""
    return controller._anticipation


def embedded_window(qtbot, tmp_path, monkeypatch):
    """The window with its first image embedded, and the list of decode requests it will make."""
    requests = []
    request_decode = InferenceWorker.request_decode
    monkeypatch.setattr(InferenceWorker, "request_decode",
                        lambda worker, request: (requests.append(request), request_decode(worker, request))[1])
    window = open_window(qtbot, tmp_path)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.current.image_id in controller.embedded, timeout=30_000)
    return window, requests


def edits_on_disk(window) -> list[dict]:
    return [e for e in read_events(window.session.folder / "events.jsonl") if e["event"] == "edit"]


def test_a_held_click_is_decoded_during_the_press_and_shown_at_its_release(qtbot, tmp_path, monkeypatch):
    window, requests = embedded_window(qtbot, tmp_path, monkeypatch)
    controller, viewport = window.controller, window.canvas.viewport()
    painted = []
    controller.mask_ready.connect(lambda mask, _overlay: painted.append((mask, edits_on_disk(window))))
    qtbot.mousePress(viewport, LEFT, pos=view_pos(window, 100, 100))
    qtbot.waitUntil(lambda: held_answer(controller) is not None and held_answer(controller).result is not None,
                    timeout=30_000)
    qtbot.wait(50)  # the answer is in: still nothing shown, recorded or logged before the release
    assert painted == [] and window.canvas.mask is None and controller.record.timesteps == []
    assert edits_on_disk(window) == [] and len(controller.prompts) == 0
    qtbot.mouseRelease(viewport, LEFT, pos=view_pos(window, 100, 100))
    assert len(painted) == 1  # painted within the release, from the answer held
    mask, logged = painted[0]
    assert logged[-1]["action"] == "add" and (logged[-1]["x"], logged[-1]["y"]) == (100, 100)  # the edit first
    wait_for_timesteps(qtbot, window, 1)
    assert len(requests) == 1 and requests[0].prompts == PromptSet().added(100, 100, 1)  # one decode
    step = controller.shown
    assert np.array_equal(controller.shown_masks[step.chosen], mask) and window.canvas.mask is mask
    assert step.prompts == controller.prompts and len(painted) == 1  # not painted a second time
    window.close()


def test_a_held_press_dragged_away_adds_nothing_and_its_answer_is_forgotten(qtbot, tmp_path, monkeypatch):
    window, _ = embedded_window(qtbot, tmp_path, monkeypatch)
    controller, viewport = window.controller, window.canvas.viewport()
    start = view_pos(window, 100, 100)
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.waitUntil(lambda: held_answer(controller) is not None and held_answer(controller).result is not None,
                    timeout=30_000)
    qtbot.mouseMove(viewport, pos=start + QPoint(40, 0))
    qtbot.mouseRelease(viewport, LEFT, pos=start + QPoint(40, 0))
    qtbot.wait(100)
    assert held_answer(controller) is None and len(controller.prompts) == 0
    assert controller.record.timesteps == [] and window.canvas.mask is None and edits_on_disk(window) == []
    window.close()


class HeldRequests:
    """Stands in for the worker's request_decode: keeps the requests, answers none."""

    def __init__(self) -> None:
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        request.serial = len(self.requests)
        return request.serial


def test_an_anticipation_is_adopted_only_by_its_own_edit_and_a_dropped_one_asks_again(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    controller = window.controller
    held = controller.worker.request_decode = HeldRequests()
    controller.add_point(50, 50, 1)  # asked for, not yet started when the press comes
    controller.anticipate_add(120, 120, 1)  # replaces it in the worker (newest request wins)
    assert [len(r.prompts) for r in held.requests] == [1, 2]
    controller.drop_anticipation()  # the press became a drag: the first set is asked for again
    assert len(held.requests) == 3 and held.requests[2].prompts == controller.prompts
    assert controller.latest_serial == 3
    controller.anticipate_add(120, 120, 1)
    controller.add_point(121, 120, 1)  # another edit (a keyboard one, say): a request of its own
    assert len(held.requests) == 5 and held.requests[4].prompts == controller.prompts
    controller.anticipate_add(80, 60, 0)
    controller.add_point(80, 60, 0)  # the press's own edit: adopted, no new request
    assert len(held.requests) == 6 and controller.latest_serial == 6 and controller.awaiting_answer
    assert held.requests[5].prompts == controller.prompts
    window.close()


def test_an_anticipated_decode_that_failed_is_asked_for_again_by_its_click(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    controller = window.controller
    held = controller.worker.request_decode = HeldRequests()
    controller.anticipate_add(120, 120, 1)
    window.worker.decode_failed.emit(1, "the press's decode failed")
    qtbot.wait(20)
    assert "failed" not in window.statusBar().currentMessage()  # nobody clicked yet: nothing to say
    controller.add_point(120, 120, 1)
    assert len(held.requests) == 2 and controller.latest_serial == 2  # asked again: its error will be shown
    window.close()


def test_no_decode_is_anticipated_where_the_click_would_not_decode(qtbot, tmp_path):
    from core.prompting.protocol import ProtocolRules
    from desktop.annotation_controller import ControllerOptions

    window = open_window(qtbot, tmp_path, options=ControllerOptions(protocol=ProtocolRules(patience=2)))
    controller = window.controller
    held = controller.worker.request_decode = HeldRequests()
    controller.anticipate_add(50, 50, 1)  # the protocol decodes only with both kinds of points
    controller.anticipate_add(-1, 50, 0)  # outside the image
    assert held.requests == []
    controller.add_point(50, 50, 1)
    controller.anticipate_add(120, 120, 0)  # now the click would decode: anticipated
    assert len(held.requests) == 1 and held.requests[0].prompts == controller.prompts.added(120, 120, 0)
    controller.set_read_only(True)  # a replay takes the canvas: dropped, nothing else asked
    controller.anticipate_add(130, 130, 0)
    assert len(held.requests) == 1
    window.close()


def test_a_release_before_the_held_decode_answers_waits_for_that_same_decode(qtbot, tmp_path, monkeypatch):
    window, requests = embedded_window(qtbot, tmp_path, monkeypatch)
    controller, viewport = window.controller, window.canvas.viewport()
    painted = []
    controller.mask_ready.connect(lambda mask, _overlay: painted.append(mask))
    qtbot.mousePress(viewport, LEFT, pos=view_pos(window, 160, 120))
    qtbot.waitUntil(lambda: held_answer(controller) is not None, timeout=30_000)  # asked, not yet answered
    qtbot.mouseRelease(viewport, LEFT, pos=view_pos(window, 160, 120))
    wait_for_timesteps(qtbot, window, 1)
    assert len(requests) == 1 and len(painted) == 1  # the press's decode, shown when it came
    assert controller.shown.prompts == PromptSet().added(160, 120, 1)
    assert np.array_equal(controller.shown_masks[controller.shown.chosen], painted[0])
    window.close()
