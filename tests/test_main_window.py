"""The real main window, offscreen: clicks, undo/redo, drag, rounds, navigation, candidates, export.

Every number the window shows is compared with a direct core call on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPointF, Qt, Slot

from core.io.event_log import read_events
from core.io.pointprompt_results import read_annotator_results
from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET
from core.prompting.click_simulation import most_interior_point
from core.prompting.metrics import iou
from core.prompting.session import AnnotationSession
from core.prompting.study import study_from_image_datasets
from desktop.main_window import MainWindow

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton


@pytest.fixture
def engine():
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


def open_window(qtbot, folder, images=None, **options):
    images = images if images is not None else study_from_image_datasets(DEMO_DATASET, ["ellipse"])
    session = AnnotationSession.open(folder / "session", "st1")
    window = MainWindow(images, session, device="cpu", output=folder, **options)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.controller.model_description != "", timeout=60_000)
    return window


@pytest.fixture
def window(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    yield window
    window.close()


def view_pos(window, x, y):
    return window.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def click(qtbot, window, x, y, button=LEFT):
    qtbot.mouseClick(window.canvas.viewport(), button, pos=view_pos(window, x, y))


def wait_for_timesteps(qtbot, window, count):
    qtbot.waitUntil(lambda: window.controller.record is not None
                    and len(window.controller.record.timesteps) == count and window.controller.shown is not None
                    and not window._secondary.isActive(), timeout=30_000)


def test_window_opens_on_the_study_with_the_tiny_model(window):
    assert window.table.rowCount() == 12
    assert window.controller.current.image_id == "ellipse/0"
    assert window.controller.loaded.image.shape == (240, 320, 3)
    assert window.controller.model_description.startswith("tiny-")


def test_clicks_give_the_same_mask_and_iou_as_core(qtbot, window, engine):
    controller = window.controller
    truth = controller.truth
    x, y = most_interior_point(truth)
    click(qtbot, window, x, y)
    wait_for_timesteps(qtbot, window, 1)
    assert controller.prompts.to_json() == [[x, y, 1]]
    expected = engine.decode(engine.embed(controller.loaded.image), np.array([[x, y]]), np.array([1]))
    np.testing.assert_array_equal(controller.shown_masks, expected.masks)
    shown = controller.shown
    assert shown.chosen == 0 and shown.iou == pytest.approx(iou(expected.masks[0], truth))
    assert f"IoU {shown.iou:.3f}" in window.score_label.text()
    np.testing.assert_array_equal(window.canvas.mask, controller.shown_masks[0])  # what the annotator sees
    np.testing.assert_allclose(shown.predicted_ious, expected.predicted_iou, rtol=1e-6)

    click(qtbot, window, 3, 3, RIGHT)
    wait_for_timesteps(qtbot, window, 2)
    assert controller.prompts.labels.tolist() == [1, 0]
    events = read_events(window.session.folder / "events.jsonl")
    timesteps = [e for e in events if e["event"] == "timestep"]
    assert len(timesteps) == 2 and timesteps[1]["prompts"] == [[x, y, 1], [3, 3, 0]]
    assert timesteps[1]["ious"][0] == pytest.approx(controller.record.timesteps[1].iou)
    assert timesteps[1]["latency_ms"] > 0 and timesteps[1]["device"] == "cpu"


def test_clicks_outside_the_image_are_ignored(qtbot, window):
    qtbot.mouseClick(window.canvas.viewport(), LEFT, pos=window.canvas.mapFromScene(QPointF(-20, -20)))
    window.controller.add_point(500, 10, 1)  # the keyboard path checks bounds too
    assert len(window.controller.prompts) == 0


def test_undo_redo_remove_and_drag(qtbot, window):
    controller = window.controller
    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    click(qtbot, window, 200, 60, RIGHT)
    wait_for_timesteps(qtbot, window, 2)
    window.undo_action.trigger()
    assert controller.prompts.to_json() == [[100, 100, 1]]
    wait_for_timesteps(qtbot, window, 3)
    window.redo_action.trigger()
    assert controller.prompts.to_json() == [[100, 100, 1], [200, 60, 0]]
    wait_for_timesteps(qtbot, window, 4)

    click(qtbot, window, 200, 60)  # on the exclusion point: removes it
    assert controller.prompts.to_json() == [[100, 100, 1]]
    wait_for_timesteps(qtbot, window, 5)

    viewport = window.canvas.viewport()
    qtbot.mousePress(viewport, LEFT, pos=view_pos(window, 100, 100))
    qtbot.mouseMove(viewport, view_pos(window, 120, 110))
    qtbot.mouseRelease(viewport, LEFT, pos=view_pos(window, 140, 120))
    assert controller.prompts.to_json() == [[140, 120, 1]]
    wait_for_timesteps(qtbot, window, 6)
    window.undo_action.trigger()
    assert controller.prompts.to_json() == [[100, 100, 1]]
    wait_for_timesteps(qtbot, window, 7)
    controller.clear_points()
    assert len(controller.prompts) == 0 and controller.shown is None
    window.undo_action.trigger()
    assert controller.prompts.to_json() == [[100, 100, 1]]

    actions = [e["action"] for e in read_events(window.session.folder / "events.jsonl") if e["event"] == "edit"]
    assert actions == ["add", "add", "undo", "redo", "remove", "move", "undo", "clear", "undo"]


def test_rounds_navigation_and_time(qtbot, window):
    controller = window.controller
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    window.controller.new_round()
    assert controller.record.round == 1 and len(controller.prompts) == 0 and controller.shown is None
    click(qtbot, window, 150, 110)
    wait_for_timesteps(qtbot, window, 2)
    assert [t.round for t in controller.record.timesteps] == [0, 1]

    qtbot.keyClick(window, Qt.Key.Key_N)
    assert controller.current.image_id == "ellipse/1" and window.table.currentRow() == 1
    assert window.table.row_texts(0)[2] == "2"
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert controller.current.image_id == "ellipse/0"
    assert len(controller.prompts) == 1 and controller.shown_timestep == 1  # restored, not re-decoded
    kinds = [(e["event"], e.get("image")) for e in read_events(window.session.folder / "events.jsonl")]
    assert ("close", "ellipse/0") in kinds and ("open", "ellipse/1") in kinds
    assert window.session.records["ellipse/0"].seconds > 0


def test_choosing_a_candidate_is_recorded_and_shown(qtbot, window):
    controller = window.controller
    click(qtbot, window, *most_interior_point(controller.truth))
    wait_for_timesteps(qtbot, window, 1)
    window.candidates.buttons[2].click()
    assert controller.shown.chosen == 2
    assert controller.shown.iou == pytest.approx(iou(controller.shown_masks[2], controller.truth))
    assert read_events(window.session.folder / "events.jsonl")[-1]["event"] == "choose"


def test_blind_mode_hides_scores_but_records_them(qtbot, tmp_path):
    from desktop.annotation_controller import ControllerOptions

    window = open_window(qtbot, tmp_path, options=ControllerOptions(blind=True))
    click(qtbot, window, *most_interior_point(window.controller.truth))
    wait_for_timesteps(qtbot, window, 1)
    assert "IoU " not in window.score_label.text().replace("predicted IoU", "")
    assert window.table.row_texts(0)[3] == ""
    assert window.controller.record.timesteps[0].iou is not None
    window.close()


def test_export_from_the_window_round_trips(qtbot, window, tmp_path):
    click(qtbot, window, *most_interior_point(window.controller.truth))
    wait_for_timesteps(qtbot, window, 1)
    click(qtbot, window, 5, 5, RIGHT)
    wait_for_timesteps(qtbot, window, 2)
    window.export_to(tmp_path / "export")  # on a thread of its own
    qtbot.waitUntil(lambda: window.exporting is None, timeout=30_000)
    results = read_annotator_results(tmp_path / "export", "ellipse", "st1")
    record = window.controller.record
    assert list(results) == [0] and len(results[0]) == 2
    assert np.allclose(results[0].scores, [t.iou for t in record.timesteps])
    np.testing.assert_array_equal(results[0].mask(1), window.session.timestep_mask("ellipse/0", 1))
    assert "Exported 2 timesteps" in window.statusBar().currentMessage()


def test_a_broken_image_is_reported_and_the_rest_works(qtbot, tmp_path):
    import cv2

    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a_broken.png").write_bytes(b"not a png")
    cv2.imwrite(str(folder / "b_good.png"), np.full((40, 50, 3), 120, np.uint8))
    from core.prompting.study import study_from_folder

    window = open_window(qtbot, tmp_path, images=study_from_folder(folder))
    assert window.controller.loaded is None and "a_broken.png" in window.score_label.text()
    window.controller.add_point(5, 5, 1)  # nothing to prompt on a broken image
    assert len(window.controller.prompts) == 0
    qtbot.keyClick(window, Qt.Key.Key_N)
    assert window.controller.loaded is not None
    click(qtbot, window, 10, 10)
    wait_for_timesteps(qtbot, window, 1)
    assert window.controller.shown.iou is None  # no ground truth: no score, still a timestep
    window.close()


def test_over_prompting_warning_after_a_worse_timestep(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    truth = window.controller.truth
    session = window.session
    prompts = window.controller.prompts
    masks = np.stack([truth, truth, truth])
    worse = np.stack([np.zeros_like(truth)] * 3)
    for step, (x, candidates) in enumerate(((10, masks), (20, worse))):
        prompts = prompts.added(x, 10, 1)
        session.edit("add", prompts)
        session.record_timestep("ellipse/0", prompts, candidates, [0.9] * 3,
                                [iou(m, truth) for m in candidates], [0.0] * 3, 0, 0.01)
    window._update_plot()
    assert "Over-prompting" in window.warning_label.text() and "timestep 0" in window.warning_label.text()
    assert window.plot.values.tolist() == [1.0, 0.0]
    window.close()


def test_replay_published_results_and_rerun(qtbot, window, tmp_path):
    controller = window.controller
    for x, y, label in ((160, 120, 1), (10, 10, 0)):
        count = len(controller.record.timesteps)
        controller.add_point(x, y, label)
        wait_for_timesteps(qtbot, window, count + 1)
    window.export_to(tmp_path / "published")
    qtbot.waitUntil(lambda: window.exporting is None, timeout=30_000)
    controller.new_round()
    window.replay.open_root(tmp_path / "published")
    assert window.replay.active and not window.canvas.editable
    assert window.replay.annotator_box.currentText() == "st1"
    window.replay.slider.setValue(1)
    assert "timestep 2/2" in window.replay.info.text() and "1 exclusion" in window.replay.info.text()
    window.replay.request_rerun()
    qtbot.waitUntil(lambda: window.replay.rerun is not None, timeout=30_000)
    np.testing.assert_allclose(window.replay.rerun, [t.iou for t in controller.record.timesteps])
    assert "re-run" in window.replay.info.text()
    window.replay.stop()
    assert window.canvas.editable and len(controller.prompts) == 0  # back to round 2's empty set


def test_switching_annotator_opens_their_own_session(qtbot, window, tmp_path):
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    window.switch_session("st2", tmp_path / "other")
    assert window.session.annotator == "st2" and window.session.folder == tmp_path / "other" / "sessions" / "st2"
    assert window.controller.record.timesteps == [] and window.controller.current.image_id == "ellipse/0"
    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    assert len(AnnotationSession.load(tmp_path / "session").records["ellipse/0"].timesteps) == 1
    assert len(AnnotationSession.load(tmp_path / "other" / "sessions" / "st2").records["ellipse/0"].timesteps) == 1


def test_a_failing_disk_shows_a_banner_and_keeps_working(qtbot, window, monkeypatch, tmp_path):
    def disk_full(event, wake_syncer=True):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(window.session._log, "append", disk_full)
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    assert window.write_banner.isVisibleTo(window) and "No space left" in window.write_banner.text()
    monkeypatch.undo()
    window.session.save_to(tmp_path / "rescued")
    window._update_banner()
    assert not window.write_banner.isVisibleTo(window)
    assert len(AnnotationSession.load(tmp_path / "rescued").records["ellipse/0"].timesteps) == 1


def test_zoom_pan_and_fit(qtbot, window):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    canvas = window.canvas
    fitted = canvas.transform().m11()
    centre = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    wheel = QWheelEvent(centre, canvas.viewport().mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(wheel)
    assert canvas.transform().m11() == pytest.approx(fitted * 1.25 ** 2)
    before = canvas.horizontalScrollBar().value()
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(viewport, QPoint(150, 200))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(150, 200))
    assert canvas.horizontalScrollBar().value() == before + 50
    assert len(window.controller.prompts) == 0  # panning adds no point
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert canvas.transform().m11() == pytest.approx(fitted)


def test_pointprompt_protocol_mode(qtbot, tmp_path, monkeypatch):
    """Patience counts changes that do not beat the round's best. To make every change
    non-improving whatever the model does, the ground truth is one corner pixel that an
    exclusion point there keeps out of every mask (IoU 0 throughout)."""
    import desktop.main_window as main_window
    from core.prompting.protocol import ProtocolRules
    from core.prompting.study import LoadedImage
    from desktop.annotation_controller import ControllerOptions

    asked = []
    monkeypatch.setattr(main_window, "ask_verdict", lambda parent, image_id: asked.append(image_id) or True)

    window = open_window(qtbot, tmp_path, options=ControllerOptions(protocol=ProtocolRules(patience=2)))
    c = window.controller
    corner = np.zeros(c.loaded.image.shape[:2], bool)
    corner[0, 0] = True
    c.loaded = LoadedImage(c.loaded.image, corner)
    c.add_point(160, 120, 1)
    assert c.shown is None and c.latest_serial == 0  # no SAM without an exclusion point
    assert "PointPrompt protocol" in window.statusBar().currentMessage()
    clicks = [(0, 0, 0), (100, 100, 1), (200, 150, 1),  # round 1: best at its first timestep, then 2 stale
              (0, 0, 0), (160, 120, 1), (90, 60, 1), (250, 200, 1)]  # round 2 starts empty: the same again
    for x, y, label in clicks:
        count = len(c.record.timesteps)
        decodable = c.prompts.added(x, y, label).counts
        c.add_point(x, y, label)
        if decodable[0] and decodable[1]:
            qtbot.waitUntil(lambda: c.current.image_id != "ellipse/0" or len(c.record.timesteps) > count,
                            timeout=30_000)
        if c.current.image_id != "ellipse/0":
            break
    record = window.session.records["ellipse/0"]
    rounds = [e for e in read_events(window.session.folder / "events.jsonl") if e["event"] == "round"]
    assert len(rounds) == 1 and rounds[0]["reason"].startswith("PointPrompt protocol: 2 changes")
    assert [t.round for t in record.timesteps] == [0, 0, 0, 1, 1, 1]
    assert all(t.iou == 0 for t in record.timesteps)
    assert all(t.prompts.counts[0] >= 1 and t.prompts.counts[1] >= 1 for t in record.timesteps)
    assert c.current.image_id == "ellipse/1"  # round 2 ran out too: the image closed, the next opened
    qtbot.waitUntil(lambda: record.gt_suboptimal is True)  # the lab tool's question, once the switch is done
    assert asked == ["ellipse/0"] and window.verdict.value is None  # recorded for ellipse/0, not the open image
    assert [(e["image"], e["gt_suboptimal"]) for e in read_events(window.session.folder / "events.jsonl")
            if e["event"] == "verdict"] == [("ellipse/0", True)]
    c.step(1)  # ellipse/1 was not prompted: nothing to ask
    qtbot.wait(20)
    assert asked == ["ellipse/0"]
    window.close()


def test_protocol_mode_right_click_removes_the_nearest_point_of_the_current_kind(qtbot, tmp_path):
    from core.prompting.protocol import ProtocolRules
    from desktop.annotation_controller import ControllerOptions

    window = open_window(qtbot, tmp_path, options=ControllerOptions(protocol=ProtocolRules(patience=50)))
    c = window.controller
    for x, y, label in ((100, 100, 1), (200, 100, 1), (150, 50, 0)):
        c.add_point(x, y, label)
    wait_for_timesteps(qtbot, window, 1)
    click(qtbot, window, 190, 60, RIGHT)  # nearest point is the exclusion one, but the mode is inclusion
    assert c.prompts.to_json() == [[100, 100, 1], [150, 50, 0]]
    window.set_left_label(0)
    click(qtbot, window, 100, 100, RIGHT)  # on an inclusion point: removes the (only) exclusion point
    assert c.prompts.to_json() == [[100, 100, 1]]
    click(qtbot, window, 10, 10, RIGHT)
    assert "No exclusion point to remove" in window.statusBar().currentMessage()
    window.close()


def test_the_ground_truth_verdict_is_recorded_per_image_and_exported(qtbot, window, tmp_path):
    import csv

    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    window.verdict.combo.setCurrentIndex(2)
    window.verdict.combo.activated.emit(2)  # what a user's pick emits
    assert window.session.records["ellipse/0"].gt_suboptimal is True
    window.controller.step(1)
    assert window.verdict.value is None  # the next image has no answer yet
    window.controller.step(-1)
    assert window.verdict.value is True
    window.export_to(tmp_path / "export")
    qtbot.waitUntil(lambda: window.exporting is None, timeout=30_000)
    with open(tmp_path / "export" / "st1_images.csv", newline="") as handle:
        rows = {row["image_id"]: row for row in csv.DictReader(handle)}
    assert rows["ellipse/0"]["gt_suboptimal"] == "true" and rows["ellipse/0"]["timesteps"] == "1"
    assert rows["ellipse/1"]["gt_suboptimal"] == "" and rows["ellipse/1"]["timesteps"] == "0"


def test_moving_on_before_the_answer_still_records_the_timestep(qtbot, window):
    c = window.controller
    c.add_point(160, 120, 1)
    c.step(1)  # at once, before the decode has answered
    assert c.current.image_id == "ellipse/1"
    qtbot.waitUntil(lambda: len(window.session.records["ellipse/0"].timesteps) == 1, timeout=30_000)
    assert c.shown is None  # not shown on the image now open


def test_closing_the_image_leaves_the_app_usable(qtbot, window):
    c = window.controller
    c.close_current()
    assert c.current is None and window.canvas._size == (0, 0)
    c.add_point(10, 10, 1)  # ignored: no image
    window.table.setCurrentCell(2, 0)
    assert c.current.image_id == "ellipse/2"


def test_prefetching_a_long_list_does_not_recurse(qtbot, window, tmp_path):
    from core.prompting.study import StudyImage, StudyImageError

    def broken():
        raise StudyImageError("unreadable")

    images = [StudyImage(f"x/{i}", "x", i, "nowhere", broken) for i in range(1500)]
    with qtbot.waitSignal(window.worker.prefetch_progress, timeout=60_000,
                          check_params_cb=lambda done, total: done == total == 1500):
        window.worker.prefetch(images)


def test_going_back_before_the_answer_shows_the_timestep(qtbot, window):
    c = window.controller
    c.add_point(160, 120, 1)
    c.step(1)
    c.step(-1)  # back on ellipse/0 before (or after) the first answer: its points are decoded again
    qtbot.waitUntil(lambda: c.shown is not None, timeout=30_000)
    assert len(c.record.timesteps) == 1 and c.shown_timestep == 0
    assert c.shown.prompts == c.prompts


def test_a_point_and_its_mask_are_painted_together(qtbot, window):
    click(qtbot, window, 100, 100)
    assert window.controller.awaiting_answer
    assert window.canvas.holding and window.canvas.markers.centres == []  # the point waits for its mask (≤ 50 ms)
    wait_for_timesteps(qtbot, window, 1)
    assert not window.controller.awaiting_answer
    assert not window.canvas.holding and len(window.canvas.markers.centres) == 1 and window.canvas.mask is not None
    assert window.round_label.text().startswith("Round 1 · 1 points · 1 timesteps")


def test_a_click_is_on_disk_and_its_point_held_before_the_worker_is_asked(qtbot, window, tmp_path, monkeypatch):
    from desktop.inference_worker import InferenceWorker

    asked = []
    request_decode = InferenceWorker.request_decode

    def spy(worker, request):
        on_disk = read_events(window.session.folder / "events.jsonl")
        asked.append((on_disk[-1], window.canvas.holding))
        return request_decode(worker, request)

    monkeypatch.setattr(InferenceWorker, "request_decode", spy)
    click(qtbot, window, 100, 100)
    assert len(asked) == 1
    last_event, holding = asked[0]
    assert last_event["event"] == "edit" and last_event["action"] == "add" and last_event["x"] == 100
    assert holding  # the window had done its share of the click: the decode runs alone
    wait_for_timesteps(qtbot, window, 1)


def test_an_unexpected_error_in_an_edit_is_reported_and_the_app_goes_on(qtbot, window, monkeypatch):
    session = window.controller.session
    edit = session.edit

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(session, "edit", broken)
    click(qtbot, window, 100, 100)  # escaping the undo command, this took the whole app down
    assert "simulated bug" in window.statusBar().currentMessage()
    assert window.controller.undo_group.activeStack().count() == 0  # the failed edit is not left to undo
    monkeypatch.setattr(session, "edit", edit)
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    assert len(window.controller.prompts) == 1


def test_the_answer_paints_the_mask_once_with_the_overlay_the_worker_drew(qtbot, window):
    from desktop.mask_overlay import mask_overlay

    window.canvas.set_overlay_style(alpha=200, outline=False)  # the worker draws in the style the canvas has now
    painted = []
    set_mask = window.canvas.set_mask
    window.canvas.set_mask = lambda mask, overlay=None: (painted.append((mask, overlay)), set_mask(mask, overlay))
    for n, (x, y) in enumerate([(100, 100), (160, 120)], start=1):
        click(qtbot, window, x, y)
        wait_for_timesteps(qtbot, window, n)
    c = window.controller
    assert len(painted) == 2  # the preview's paint; the scores that follow do not paint it again
    mask, overlay = painted[-1]
    assert np.array_equal(mask, c.shown_masks[c.shown.chosen])
    assert overlay is not None and overlay.style == (200, False)
    assert overlay.image == mask_overlay(mask, overlay.style).image
    assert window.canvas._mask_item.pixmap().toImage() == overlay.image


def test_the_shown_mask_is_painted_ahead_of_the_scores_and_follows_the_best_candidate_rule(qtbot, tmp_path):
    from desktop.annotation_controller import ControllerOptions

    window = open_window(qtbot, tmp_path, options=ControllerOptions(default_output="best"))
    controller, previews, painted = window.controller, {}, []

    class Spy(QObject):  # lives on this (the UI) thread: its slot is queued like the controller's
        @Slot(int, object, object)
        def seen(self, serial, mask, _overlay):
            previews[serial] = (mask, len(controller.record.timesteps))

    spy = Spy()
    window.worker.mask_preview.connect(spy.seen, Qt.ConnectionType.QueuedConnection)
    controller.mask_ready.connect(lambda mask, _overlay: painted.append(mask))
    differs = 0
    for n, (x, y) in enumerate([(60, 160), (200, 60), (30, 200)], start=1):  # (60, 160): the 2nd output rated best
        click(qtbot, window, x, y)
        wait_for_timesteps(qtbot, window, n)
        best = int(np.argmax(controller.shown.predicted_ious))
        assert controller.shown.chosen == best
        mask, timesteps_then = previews[controller.latest_serial]
        assert timesteps_then == n - 1  # the preview came before its timestep was recorded
        np.testing.assert_array_equal(mask, controller.shown_masks[best])  # the best, bitwise
        assert painted[-1] is mask and len(painted) == n  # painted once, from the preview
        np.testing.assert_array_equal(window.canvas.mask, controller.shown_masks[best])
        differs += best != 0 and (controller.shown_masks[best] != controller.shown_masks[0]).any()
    assert differs  # the rule mattered at least once (the first output would have been wrong)
    window.close()


def test_a_slow_decode_shows_the_point_count_at_the_deadline_and_leaves_the_plot_to_the_answer(qtbot, window):
    import time

    engine, calls = window.worker.engine, []
    fast = engine.decode_logits

    def slow(*args, **kwargs):  # a big model: the answer comes long after the 50 ms hold
        time.sleep(0.4)
        return fast(*args, **kwargs)

    engine.decode_logits = slow
    redraw = window.candidates.show_candidates
    window.candidates.show_candidates = lambda *args: (calls.append(time.monotonic()), redraw(*args))
    click(qtbot, window, 100, 100)
    qtbot.waitUntil(lambda: "1 points" in window.round_label.text(), timeout=300)  # at the deadline
    assert window.controller.awaiting_answer and calls == []  # thumbnails (and plot) not redrawn mid-decode
    wait_for_timesteps(qtbot, window, 1)
    assert len(calls) == 1 and window.candidates.buttons[0].isEnabled()
    engine.decode_logits = fast


def test_an_export_that_cannot_write_says_why_and_the_app_goes_on(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append((title, text)))
    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    window.export_to(blocker / "export")
    qtbot.waitUntil(lambda: window.exporting is None, timeout=30_000)
    assert len(warnings) == 1 and warnings[0][0] == "Export failed" and str(blocker) in warnings[0][1]
    click(qtbot, window, 40, 40, RIGHT)  # still usable
    wait_for_timesteps(qtbot, window, 2)


def test_closing_during_an_export_cancels_it_quietly_and_a_crash_in_it_is_reported(qtbot, tmp_path, monkeypatch):
    import time

    from PySide6.QtWidgets import QMessageBox

    import desktop.export_thread as export_thread
    from core.prompting.export import ExportCancelled

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))

    def slow_export(session, images, root, progress=None, cancelled=None):
        while not cancelled():
            time.sleep(0.01)
        raise ExportCancelled(0, 1, root)

    monkeypatch.setattr(export_thread, "export_session", slow_export)
    window = open_window(qtbot, tmp_path)
    window.export_to(tmp_path / "export")
    assert window.exporting is not None
    window.close()
    qtbot.wait(50)
    assert warnings == [] and not window.exporting.isRunning()

    def broken_export(*args, **kwargs):
        raise KeyError("masks/x.png")

    monkeypatch.setattr(export_thread, "export_session", broken_export)
    other = open_window(qtbot, tmp_path / "other")
    other.export_to(tmp_path / "export2")
    qtbot.waitUntil(lambda: other.exporting is None, timeout=30_000)
    assert len(warnings) == 1 and "KeyError" in warnings[0]
    other.close()


def test_no_session_switch_while_its_export_runs(qtbot, tmp_path, monkeypatch):
    import time

    import desktop.export_thread as export_thread
    from core.prompting.export import ExportCancelled

    def slow_export(session, images, root, progress=None, cancelled=None):
        while not cancelled():
            assert not session.closed  # what the export reads stays this session's
            time.sleep(0.01)
        raise ExportCancelled(0, 1, root)

    monkeypatch.setattr(export_thread, "export_session", slow_export)
    window = open_window(qtbot, tmp_path)
    window.export_to(tmp_path / "export")
    first = window.session
    window.switch_session("st2", tmp_path / "other")
    assert window.session is first and not first.closed
    said = window.statusBar().currentMessage()
    assert "export of st1's session is running" in said
    window.exporting.cancel()
    qtbot.waitUntil(lambda: window.exporting is None, timeout=30_000)
    window.switch_session("st2", tmp_path / "other")  # once it has ended
    assert window.session.annotator == "st2" and first.closed
    window.close()


def test_a_large_image_records_masks_encoded_in_the_worker(qtbot, tmp_path):
    import cv2

    from core.prompting.study import study_from_folder
    from desktop.inference_worker import WORKER_ENCODES_ABOVE_PIXELS

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    height, width = 1000, 1200
    assert height * width > WORKER_ENCODES_ABOVE_PIXELS
    image = np.full((height, width, 3), 40, np.uint8)
    cv2.circle(image, (600, 500), 300, (230, 200, 60), -1)
    truth = np.zeros((height, width), np.uint8)
    cv2.circle(truth, (600, 500), 300, 255, -1)
    cv2.imwrite(str(tmp_path / "images" / "big.png"), image)
    cv2.imwrite(str(tmp_path / "masks" / "big.png"), truth)
    window = open_window(qtbot, tmp_path, images=study_from_folder(tmp_path / "images", tmp_path / "masks"))
    encoded = []
    window.worker.decoded.connect(lambda result: encoded.append(len(result.mask_pngs)))
    click(qtbot, window, 600, 500)
    wait_for_timesteps(qtbot, window, 1)
    assert encoded == [3]
    shown = window.controller.shown_masks
    for k in range(len(shown)):  # the PNGs the worker encoded hold exactly the candidates shown
        np.testing.assert_array_equal(window.session.timestep_mask(window.controller.current.image_id, 0, k), shown[k])
    window.close()


def test_the_undo_history_survives_a_restart(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    c = window.controller
    c.add_point(100, 100, 1)
    c.add_point(200, 60, 0)
    c.add_point(50, 50, 1)
    window.undo_action.trigger()  # back to two points; the third is redoable
    c.move_point(0, 110, 105)
    wait_for_timesteps(qtbot, window, len(c.record.timesteps) or 1)
    window.close()

    again = open_window(qtbot, tmp_path)  # resumes the session in the same folder
    c = again.controller
    assert c.prompts.to_json() == [[110, 105, 1], [200, 60, 0]]
    assert again.undo_action.isEnabled() and not again.redo_action.isEnabled()  # the move cleared the redo
    again.undo_action.trigger()
    assert c.prompts.to_json() == [[100, 100, 1], [200, 60, 0]]
    again.undo_action.trigger()
    assert c.prompts.to_json() == [[100, 100, 1]]
    again.redo_action.trigger()
    assert c.prompts.to_json() == [[100, 100, 1], [200, 60, 0]]
    edits = [e["action"] for e in read_events(again.session.folder / "events.jsonl") if e["event"] == "edit"]
    assert edits == ["add", "add", "add", "undo", "move", "undo", "undo", "redo"]  # nothing logged twice
    again.close()


def test_an_undo_history_that_disagrees_with_the_log_is_dropped(qtbot, tmp_path):
    import json

    window = open_window(qtbot, tmp_path)
    window.controller.add_point(100, 100, 1)
    window.controller.add_point(200, 60, 0)
    window.close()
    log = window.session.folder / "events.jsonl"
    events = read_events(log)
    forged = {"seq": len(events), "t": events[-1]["t"] + 1, "event": "edit", "image": "ellipse/0",
              "action": "undo", "prompts": [[1, 1, 1]]}  # an undo that did not give the set before
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(forged) + "\n")
    again = open_window(qtbot, tmp_path)
    assert again.controller.prompts.to_json() == [[1, 1, 1]]  # the log is the truth
    assert not again.undo_action.isEnabled() and not again.redo_action.isEnabled()
    again.close()


def test_the_ground_truth_question_goes_to_the_image_left_even_if_answers_arrive_meanwhile(qtbot, tmp_path,
                                                                                          monkeypatch):
    import desktop.main_window as main_window
    from core.prompting.protocol import ProtocolRules
    from desktop.annotation_controller import ControllerOptions

    asked = []

    def slow_answer(parent, image_id):  # the annotator reads the question while SAM's answers come in
        asked.append(image_id)
        qtbot.wait(300)
        return False

    monkeypatch.setattr(main_window, "ask_verdict", slow_answer)
    window = open_window(qtbot, tmp_path, options=ControllerOptions(protocol=ProtocolRules(patience=1)))
    c = window.controller
    c.add_point(160, 120, 1)
    c.add_point(5, 5, 0)
    wait_for_timesteps(qtbot, window, 1)
    c.add_point(10, 200, 0)  # its answer is still on the way when the annotator moves on
    c.step(1)
    qtbot.waitUntil(lambda: window.session.records["ellipse/0"].gt_suboptimal is False, timeout=30_000)
    qtbot.wait(100)
    assert asked == ["ellipse/0"]
    verdicts = [(e["image"], e["gt_suboptimal"]) for e in read_events(window.session.folder / "events.jsonl")
                if e["event"] == "verdict"]
    assert verdicts == [("ellipse/0", False)] and window.session.records["ellipse/1"].gt_suboptimal is None
    window.close()
