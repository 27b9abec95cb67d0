"""Gradient maps in the real window, offscreen: after the mask, cancelled by a newer click, scalars
in the panel and the log, off for a plain study, suggested clicks, revisits and choices.

Every map and scalar the window shows is compared with a direct core call on the same inputs.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

import core.gradients.sam_maps as sam_maps
from core.io.event_log import read_events
from core.io.map_png import map_to_bytes, read_map_png
from core.models.sam_engine import SamEngine
from core.prompting.click_simulation import most_interior_point
from desktop.annotation_controller import ControllerOptions
from desktop.map_overlay import map_to_qimage
from tests.test_main_window import click, open_window, wait_for_timesteps

RIGHT = Qt.MouseButton.RightButton


@pytest.fixture(scope="module")
def engine():
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


@pytest.fixture
def window(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    yield window
    window.close()


def hold_the_first_maps(monkeypatch) -> tuple[threading.Event, list[int]]:
    """Make the first maps computation wait until something cancels it (``started`` is set when it
    begins; ``calls`` gets each computation's number of points); later ones run at once."""
    real = sam_maps.compute_sam_maps
    started, calls = threading.Event(), []

    def slow_first(engine, embedding, points, labels, chosen=0, previous_low_res=None, options=None,
                   cancelled=lambda: False):
        calls.append(len(points))
        if len(calls) == 1:  # the first click's maps wait until something cancels them
            started.set()
            for _ in range(20_000):  # a guard against a hang, not a time limit
                if cancelled():
                    break
                time.sleep(0.001)
        return real(engine, embedding, points, labels, chosen=chosen, previous_low_res=previous_low_res,
                    cancelled=cancelled)

    monkeypatch.setattr(sam_maps, "compute_sam_maps", slow_first)
    return started, calls


def events(window, kind=None):
    logged = read_events(window.session.folder / "events.jsonl")
    return [e for e in logged if kind is None or e["event"] == kind]


def wait_for_maps(qtbot, window, index):
    """Until the maps of timestep ``index`` (its chosen candidate) are on show with their overlay."""
    c = window.controller

    def shown():
        maps = c.maps
        return (c.shown_timestep == index and maps.key == maps.current_key() and maps.scalars is not None
                and not maps.computing and window.canvas.map_overlay is not None)

    qtbot.waitUntil(shown, timeout=60_000)


def test_a_click_shows_the_mask_first_then_the_map(qtbot, window, engine):
    c, canvas = window.controller, window.canvas
    seen = []  # what reached the canvas, in order, with the number of paints so far
    set_mask, set_map = canvas.set_mask, canvas.set_map_overlay
    canvas.set_mask = lambda mask, overlay=None: (seen.append(("mask", mask is not None, canvas._paints)),
                                                  set_mask(mask, overlay))
    canvas.set_map_overlay = lambda image: (seen.append(("map", image is not None, canvas._paints)), set_map(image))
    worker_order = []  # what the worker sent, in its own thread's order
    window.worker.mask_preview.connect(lambda *args: worker_order.append("mask"), Qt.ConnectionType.DirectConnection)
    window.worker.maps_ready.connect(lambda result: worker_order.append("maps"), Qt.ConnectionType.DirectConnection)

    x, y = most_interior_point(c.truth)
    click(qtbot, window, x, y)
    wait_for_timesteps(qtbot, window, 1)
    wait_for_maps(qtbot, window, 0)

    assert worker_order[:2] == ["mask", "maps"]
    first_mask = next(i for i, (kind, present, _) in enumerate(seen) if kind == "mask" and present)
    first_map = next(i for i, (kind, present, _) in enumerate(seen) if kind == "map" and present)
    assert first_mask < first_map
    assert seen[first_map][2] > seen[first_mask][2]  # the mask had been painted when the map came

    # the map and scalars are core's for this prompt set and candidate
    expected = sam_maps.compute_sam_maps(engine, engine.embed(c.loaded.image), np.array([[x, y]]), np.array([1]))
    maps = c.maps
    assert maps.key == ("ellipse/0", 0, 0) and maps.style.name == "intervention_total"
    np.testing.assert_array_equal(maps._arrays["intervention_total"].shape, (240, 320))
    assert np.abs(map_to_bytes(maps._arrays["intervention_total"]).astype(int)
                  - map_to_bytes(expected.maps["intervention_total"]).astype(int)).max() <= 1
    assert canvas.map_overlay == map_to_qimage(maps._arrays["intervention_total"], "viridis", maps.style.alpha)
    for name in ("predicted_iou", "stability_score", "intervention_total", "logit_entropy"):
        assert maps.scalars[name] == pytest.approx(expected.scalars[name], rel=1e-3, abs=1e-5)

    # the scalars are in the panel and in the log's maps event of timestep 0, its PNGs beside the masks
    panel = window.overlays.scalars.text()
    assert "SAM IoU" in panel and f"{maps.scalars['predicted_iou']:.3f}" in panel
    assert f"predicted_iou: {maps.scalars['predicted_iou']:.6g}" in window.overlays.scalars.toolTip()
    assert "Timestep 0" in window.overlays.status.text()
    (logged,) = events(window, "maps")
    assert (logged["image"], logged["index"], logged["chosen"]) == ("ellipse/0", 0, 0)
    assert logged["scalars"] == pytest.approx(maps.scalars)
    assert set(logged["files"]) == set(expected.maps)
    saved = read_map_png(window.session.folder / logged["files"]["gradcam"])
    np.testing.assert_array_equal(map_to_bytes(saved), map_to_bytes(maps._arrays["gradcam"]))
    assert window.session.records["ellipse/0"].timesteps[0].scalars == pytest.approx(maps.scalars)
    timestep_seq = next(e["seq"] for e in events(window, "timestep"))
    assert logged["seq"] > timestep_seq


def test_a_second_click_cancels_the_first_map(qtbot, window, monkeypatch):
    c, canvas = window.controller, window.canvas
    started, calls = hold_the_first_maps(monkeypatch)
    cancelled = []
    window.worker.maps_cancelled.connect(lambda serial: cancelled.append(serial), Qt.ConnectionType.DirectConnection)
    shown_keys = []
    set_map = canvas.set_map_overlay
    canvas.set_map_overlay = lambda image: (shown_keys.append(c.maps.key) if image is not None else None,
                                            set_map(image))

    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    qtbot.waitUntil(started.is_set, timeout=30_000)
    first_serial = c.maps._maps_serial
    assert c.maps.computing and first_serial > 0
    click(qtbot, window, 20, 20, RIGHT)  # before the first maps are done
    wait_for_timesteps(qtbot, window, 2)
    wait_for_maps(qtbot, window, 1)

    assert first_serial in cancelled and first_serial in c.maps.cancelled  # the worker said so
    assert shown_keys and all(key == ("ellipse/0", 1, 0) for key in shown_keys)  # the first map never showed
    # the cancelled timestep's maps are computed once the worker is idle: recorded, not shown
    qtbot.waitUntil(lambda: len(events(window, "maps")) == 2, timeout=60_000)
    assert [e["index"] for e in events(window, "maps")] == [1, 0]
    assert all(key == ("ellipse/0", 1, 0) for key in shown_keys)
    assert canvas.map_overlay is not None and c.maps.key == ("ellipse/0", 1, 0)


def test_the_toggle_off_computes_and_logs_nothing(qtbot, tmp_path, monkeypatch):
    from desktop.inference_worker import InferenceWorker

    computed, asked = [], []
    real, request_maps = sam_maps.compute_sam_maps, InferenceWorker.request_maps
    monkeypatch.setattr(sam_maps, "compute_sam_maps", lambda *a, **k: (computed.append(1), real(*a, **k))[1])
    monkeypatch.setattr(InferenceWorker, "request_maps", lambda w, r: (asked.append(r), request_maps(w, r))[1])
    window = open_window(qtbot, tmp_path, options=ControllerOptions(maps=False))
    assert not window.maps_action.isChecked()
    assert "off" in window.overlays.status.text() and not window.overlays.map_box.isEnabled()
    c = window.controller
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    click(qtbot, window, 20, 20, RIGHT)
    wait_for_timesteps(qtbot, window, 2)
    assert asked == [] and c.maps._maps_serial == 0  # never asked
    assert computed == [] and window.canvas.map_overlay is None and window.overlays.scalars.text() == ""
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert "Gradient maps are off" in window.statusBar().currentMessage()
    assert window.canvas.suggestion_marker.pixel is None
    assert not [e for e in events(window) if e["event"] in ("maps", "suggest", "suggest_outcome")]

    window.maps_action.trigger()  # on again: the shown timestep's maps come
    wait_for_maps(qtbot, window, 1)
    assert [e["index"] for e in events(window, "maps")] == [1]
    window.maps_action.trigger()  # off: the overlay goes at once
    assert window.canvas.map_overlay is None and "off" in window.overlays.status.text()
    window.close()


def test_suggest_accept_and_ignore(qtbot, window):
    c, canvas = window.controller, window.canvas
    x, y = most_interior_point(c.truth)
    click(qtbot, window, x, y)
    wait_for_timesteps(qtbot, window, 1)
    wait_for_maps(qtbot, window, 0)

    qtbot.keyClick(window, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: canvas.suggestion_marker.pixel is not None, timeout=30_000)
    sx, sy = canvas.suggestion_marker.pixel
    label = canvas.suggestion_marker.label
    assert 0 <= sx < 320 and 0 <= sy < 240 and canvas.suggestion_marker.isVisible()
    shown_mask = c.shown_masks[c.shown.chosen]
    assert label == (0 if shown_mask[sy, sx] else 1)  # on the right side of the mask
    (suggest,) = events(window, "suggest")
    assert (suggest["x"], suggest["y"], suggest["label"], suggest["source"], suggest["index"]) == \
        (sx, sy, label, "intervention_total", 0)
    kind = "inclusion" if label == 1 else "exclusion"
    assert kind in window.overlays.suggestion.text() and f"({sx}, {sy})" in window.overlays.suggestion.text()

    qtbot.keyClick(window, Qt.Key.Key_A)  # accept: the same path as a click
    assert c.prompts.to_json() == [[x, y, 1], [sx, sy, label]]
    edit = events(window, "edit")[-1]
    assert edit["action"] == "add" and edit["suggested"] is True and (edit["x"], edit["y"]) == (sx, sy)
    outcome = events(window, "suggest_outcome")[-1]
    assert outcome["outcome"] == "followed" and outcome["seq"] < edit["seq"]
    wait_for_timesteps(qtbot, window, 2)
    assert canvas.suggestion_marker.pixel is None  # gone with the new mask
    record = window.session.records["ellipse/0"]
    assert record.suggestions[-1].outcome == "followed" and record.timesteps[1].prompts == c.prompts

    wait_for_maps(qtbot, window, 1)
    window.overlays.continuous_box.setChecked(True)  # shows the suggestion at once, and after every answer
    qtbot.waitUntil(lambda: canvas.suggestion_marker.pixel is not None, timeout=30_000)
    assert len(events(window, "suggest")) == 2
    window.undo_action.trigger()  # another change than the suggestion: ignored
    outcome = events(window, "suggest_outcome")[-1]
    assert (outcome["outcome"], outcome["by"]) == ("ignored", "undo")
    assert c.prompts.to_json() == [[x, y, 1]]  # the accepted point was undoable
    wait_for_timesteps(qtbot, window, 3)
    wait_for_maps(qtbot, window, 2)
    qtbot.waitUntil(lambda: canvas.suggestion_marker.pixel is not None, timeout=30_000)  # continuously
    assert [s.outcome for s in record.suggestions] == ["followed", "ignored", None]


def test_choosing_another_candidate_recomputes_its_maps_and_a_revisit_reads_them(qtbot, window):
    c = window.controller
    click(qtbot, window, *most_interior_point(c.truth))
    wait_for_timesteps(qtbot, window, 1)
    wait_for_maps(qtbot, window, 0)
    window.candidates.buttons[2].click()
    wait_for_maps(qtbot, window, 0)
    qtbot.waitUntil(lambda: c.maps.key == ("ellipse/0", 0, 2) and c.maps.scalars is not None, timeout=60_000)
    assert [(e["index"], e["chosen"]) for e in events(window, "maps")] == [(0, 0), (0, 2)]
    assert c.maps.scalars["predicted_iou"] == pytest.approx(c.shown.predicted_ious[2], abs=1e-5)
    scalars = dict(c.maps.scalars)

    window.overlays.colormap_box.setCurrentText("magma")  # redrawn by the worker in the new colormap
    qtbot.waitUntil(lambda: window.canvas.map_overlay == map_to_qimage(
        c.maps._arrays["intervention_total"], "magma", c.maps.style.alpha), timeout=30_000)

    qtbot.keyClick(window, Qt.Key.Key_N)
    assert window.canvas.map_overlay is None and c.maps.key is None
    qtbot.keyClick(window, Qt.Key.Key_P)  # back: shown from the session's PNGs, not computed again
    wait_for_maps(qtbot, window, 0)
    assert c.maps.key == ("ellipse/0", 0, 2) and c.maps.scalars == scalars
    assert "saved in this session" in window.overlays.status.text()
    assert len(events(window, "maps")) == 2


def test_file_export_adds_the_maps_beside_the_layout(qtbot, window, tmp_path):
    import csv

    from core.io.pointprompt_results import read_annotator_results
    from core.prompting.export import export_session
    from core.prompting.session import AnnotationSession

    c = window.controller
    click(qtbot, window, *most_interior_point(c.truth))
    wait_for_timesteps(qtbot, window, 1)
    click(qtbot, window, 5, 5, RIGHT)
    wait_for_timesteps(qtbot, window, 2)
    qtbot.waitUntil(lambda: len(events(window, "maps")) == 2, timeout=60_000)
    assert window.export_maps_action.isChecked()
    window.export_to(tmp_path / "export")
    qtbot.waitUntil(lambda: window.exporting is None, timeout=60_000)
    root = tmp_path / "export"
    names = {p.name for p in (root / "st1_maps" / "ellipse").iterdir()}
    logged = {e["index"]: e for e in events(window, "maps")}
    assert names == {f"0_{t}_{name}.png" for t in (0, 1) for name in logged[t]["files"]}
    assert (root / "st1_maps" / "ellipse" / "0_1_gradcam.png").read_bytes() == \
        (window.session.folder / logged[1]["files"]["gradcam"]).read_bytes()
    assert not [p for p in (root / "ellipse").rglob("*") if "map" in p.name.replace("_mask", "")]
    assert len(read_annotator_results(root, "ellipse", "st1")[0]) == 2
    with open(root / "st1_map_scalars.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["timestep"] == "1" and r["scalar"] == "stability_score")
    assert float(row["value"]) == pytest.approx(logged[1]["scalars"]["stability_score"])
    assert "map PNGs in st1_maps" in window.statusBar().currentMessage()

    loaded = AnnotationSession.load(window.session.folder)  # while the app has it open
    export_session(loaded, window.images, tmp_path / "again", maps=True)
    assert (tmp_path / "again" / "st1_map_scalars.csv").read_text() == (root / "st1_map_scalars.csv").read_text()


def test_maps_in_flight_when_the_session_changes_go_nowhere(qtbot, window, tmp_path, monkeypatch):
    started, calls = hold_the_first_maps(monkeypatch)
    click(qtbot, window, 160, 120)
    wait_for_timesteps(qtbot, window, 1)
    qtbot.waitUntil(started.is_set, timeout=30_000)
    old = window.session
    window.switch_session("st2", tmp_path / "other")  # the old controller's maps are cancelled
    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    wait_for_maps(qtbot, window, 0)
    assert [(e["image"], e["index"]) for e in events(window, "maps")] == [("ellipse/0", 0)]
    assert not [e for e in read_events(old.folder / "events.jsonl") if e["event"] == "maps"]
    assert window.controller.maps.cancelled == []  # the old request's cancellation was not this controller's


def test_a_replay_hides_the_map_and_the_suggestion_and_no_maps_is_a_flag(qtbot, window):
    from desktop.app import parse_args

    c, canvas = window.controller, window.canvas
    click(qtbot, window, *most_interior_point(c.truth))
    wait_for_timesteps(qtbot, window, 1)
    wait_for_maps(qtbot, window, 0)
    window.suggest_action.trigger()
    qtbot.waitUntil(lambda: canvas.suggestion_marker.pixel is not None, timeout=30_000)
    c.set_read_only(True)  # what a replay does
    assert canvas.map_overlay is None and canvas.suggestion_marker.pixel is None
    c.set_read_only(False)
    assert canvas.map_overlay is not None and canvas.suggestion_marker.pixel is not None
    assert len(events(window, "suggest")) == 1  # the same suggestion, not logged again

    assert parse_args(["--no-maps"]).no_maps and not parse_args([]).no_maps
    assert parse_args(["--demo-map", "gradcam", "--demo-suggest"]).demo_map == "gradcam"
