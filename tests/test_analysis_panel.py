"""The Analysis tab: the example export analysed through the panel equals core's tables; filters,
hover and click, bad folders, Cancel, work off the UI thread, and the open study's session."""

from __future__ import annotations

import csv
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.analysis.prompt_analysis import AnalysisCancelled
from core.analysis.prompt_report import analyze
from core.io.masks import encode_mask_png
from core.paths import DEMO_DATASET
from core.prompting.prompt_set import PromptSet
from core.prompting.session import AnnotationSession
from core.prompting.study import study_from_folder, study_from_image_datasets
from desktop import analysis_panel
from desktop.analysis_panel import AnalysisPanel
from desktop.analysis_thread import AnalysisThread, load_session, study_dataset_root
from tests.session_helpers import decode_and_record

EXPORT = Path(__file__).resolve().parents[1] / "docs" / "example-export"
LONG = 120_000  # ms: a guard against a hang, not a speed limit


@pytest.fixture
def panel(qtbot):
    widget = AnalysisPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    yield widget
    widget.shutdown()


def load(qtbot, panel, results=EXPORT, dataset=DEMO_DATASET):
    with qtbot.waitSignal(panel.loaded, timeout=LONG):
        panel.open_results(results, dataset)
    qtbot.waitUntil(lambda: panel.job is None, timeout=LONG)
    return panel.data


def core_tables(tmp_path, results=EXPORT, dataset=DEMO_DATASET):
    analyze(results, dataset, tmp_path / "core", plots=False)
    read = lambda name: list(csv.DictReader(open(tmp_path / "core" / name, encoding="utf-8")))  # noqa: E731
    return read("images.csv"), read("timesteps.csv"), read("summary.csv")


def numbers(rows, key):
    return np.array([float(r[key]) if r[key] != "" else np.nan for r in rows])


def test_the_example_export_is_plotted_as_core_tabulates_it_off_the_ui_thread(qtbot, panel, tmp_path, monkeypatch):
    threads = []
    real = analysis_panel.load_results
    monkeypatch.setattr(analysis_panel, "load_results",
                        lambda *a, **k: (threads.append(threading.get_ident()), real(*a, **k))[1])
    data = load(qtbot, panel)
    assert threads and threads[0] != threading.get_ident()
    rounds, steps, summary = core_tables(tmp_path)
    groups = {(r["category"], r["annotator"], r["image_index"], r["round"]) for r in steps}
    assert panel.curves.curve_count == len(groups) == len(rounds) == 3
    np.testing.assert_allclose(panel.curves.pick_y, numbers(steps, "iou"))  # every timestep, in table order
    np.testing.assert_array_equal(panel.curves.pick_x, numbers(steps, "step_in_round") + 1)
    losses = numbers(rounds, "best_minus_last")
    assert panel.losses.counts.sum() == len(rounds)
    np.testing.assert_allclose(np.sort(panel.losses.pick_x), np.sort(losses))
    panel.feature_box.setCurrentIndex(panel.feature_box.findData("data:mask_share"))
    np.testing.assert_allclose(panel.scatter.pick_x, numbers(rounds, "mask_share"))
    np.testing.assert_allclose(panel.scatter.pick_y, numbers(rounds, "best_iou"))
    panel.feature_box.setCurrentIndex(panel.feature_box.findData("prompt:chamfer_distance"))
    finite = np.isfinite(numbers(steps, "chamfer_distance"))
    np.testing.assert_allclose(panel.scatter.pick_x, numbers(steps, "chamfer_distance")[finite])
    row = summary[0]
    text = panel.summary_label.text()
    assert f"{row['images']} images · {row['rounds']} rounds" in text
    for key in ("mean_first_iou", "mean_best_iou", "mean_last_iou"):
        assert f"{float(row[key]):.3f}" in text
    below = int((numbers(rounds, "best_minus_last") > 0).sum())
    assert f"{below} of {len(rounds)} scored rounds ({100 * below / len(rounds):.0f}%) end below their best" in text
    assert data.skipped == []


def test_filters_change_what_is_plotted(qtbot, panel, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(EXPORT, results)
    shutil.copytree(results / "star" / "st1", results / "star" / "st2")
    (results / "ellipse").mkdir()
    shutil.copytree(results / "star" / "st1", results / "ellipse" / "st1")
    load(qtbot, panel, results)
    assert [panel.category_box.itemText(i) for i in range(panel.category_box.count())] == ["all", "ellipse", "star"]
    assert [panel.annotator_box.itemText(i) for i in range(panel.annotator_box.count())] == ["all", "st1", "st2"]
    assert panel.curves.curve_count == 9 and panel.losses.counts.sum() == 9
    panel.annotator_box.setCurrentText("st2")
    assert panel.curves.curve_count == 3 and panel.losses.counts.sum() == 3
    assert "2 images · 3 rounds" in panel.summary_label.text()
    panel.annotator_box.setCurrentText("all")
    panel.category_box.setCurrentText("star")
    assert panel.curves.curve_count == 6 and len(panel.scatter.pick_x) > 0
    assert set(panel.data.categories[panel.losses.pick_rows]) == {"star"}
    assert "2 images · 6 rounds" in panel.summary_label.text()


def test_hover_names_the_round_and_a_click_emits_its_image_id(qtbot, panel):
    load(qtbot, panel)
    panel.charts.setCurrentWidget(panel.losses)
    chart = panel.losses
    qtbot.waitUntil(lambda: chart.isVisible())
    i = int(np.argmax(chart.pick_x))  # the round that lost the most IoU
    rounds = list(csv.DictReader(open(EXPORT.parent / "example-analysis" / "images.csv", encoding="utf-8")))
    worst = max(rounds, key=lambda r: float(r["best_minus_last"]))
    image_id = f"{worst['category']}/{worst['image_index']}"
    expected = f"{image_id} · {worst['annotator']} · round {int(worst['round']) + 1}"

    def hover_names_the_round() -> bool:
        # the chart's layout settles over the first events after it is shown: aim at where the dot is now
        qtbot.mouseMove(chart.viewport(), chart.widget_pos(i))
        return expected in panel.status_label.text()

    qtbot.waitUntil(hover_names_the_round)
    with qtbot.waitSignal(panel.image_clicked, timeout=LONG) as clicked:
        qtbot.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=chart.widget_pos(i))
    assert clicked.args == [image_id]
    panel.charts.setCurrentWidget(panel.curves)
    qtbot.waitUntil(lambda: panel.curves.isVisible())
    first = int(np.flatnonzero(panel.curves.pick_rows == 0)[0])
    with qtbot.waitSignal(panel.image_clicked, timeout=LONG) as clicked:
        qtbot.mouseClick(panel.curves.viewport(), Qt.MouseButton.LeftButton, pos=panel.curves.widget_pos(first))
    assert clicked.args == ["star/0"]


def test_a_bad_folder_gives_a_message_not_a_crash(qtbot, panel, tmp_path):
    missing = tmp_path / "nowhere"
    with qtbot.waitSignal(panel.ended, timeout=LONG) as ended:
        panel.open_results(missing)
    assert str(missing) in ended.args[0] and panel.data is None
    qtbot.waitUntil(lambda: panel.job is None and panel.open_button.isEnabled(), timeout=LONG)
    junk = tmp_path / "junk"
    (junk / "star").mkdir(parents=True)
    (junk / "star" / "notes.txt").write_text("not results")
    with qtbot.waitSignal(panel.ended, timeout=LONG) as ended:
        panel.open_results(junk)
    assert "No prompting results could be read under" in ended.args[0] and str(junk / "star") in ended.args[0]
    qtbot.waitUntil(lambda: panel.job is None, timeout=LONG)
    load(qtbot, panel, EXPORT, tmp_path)  # a dataset folder without the category: plotted, the file named
    assert panel.data.skipped and "could not be used" in panel.status_label.text()
    assert str(tmp_path / "star") in panel.status_label.toolTip()


def test_cancel_stops_the_analysis(qtbot, panel):
    started = threading.Event()

    def work(progress, cancelled):
        started.set()
        for _ in range(10_000):  # until Cancel (at most ~100 s)
            if cancelled():
                raise AnalysisCancelled(0, 1)
            time.sleep(0.01)
        raise AssertionError("never cancelled")

    panel.start(work, "working")
    assert panel.cancel_button.isVisible() and not panel.open_button.isEnabled()
    assert started.wait(LONG / 1000)
    with qtbot.waitSignal(panel.ended, timeout=LONG) as ended:
        panel.cancel_button.click()
    assert "cancelled" in ended.args[0]
    qtbot.waitUntil(lambda: panel.job is None and not panel.cancel_button.isVisible(), timeout=LONG)
    job = AnalysisThread(lambda progress, cancelled: None)
    job.cancel()  # cancelled before it ran: no data comes back
    with qtbot.waitSignal(job.cancelled, timeout=LONG):
        job.start()
    job.wait()


def test_a_folder_study_session_is_analysed_with_its_ground_truth(tmp_path):
    images_dir, masks_dir = tmp_path / "shapes", tmp_path / "masks"
    images_dir.mkdir()
    masks_dir.mkdir()
    truth = np.zeros((24, 32), bool)
    truth[6:18, 8:24] = True
    for name in ("a", "b"):
        (images_dir / f"{name}.png").write_bytes(encode_mask_png(np.dstack([truth] * 3)[..., 0]))
        (masks_dir / f"{name}.png").write_bytes(encode_mask_png(truth))
    study = study_from_folder(images_dir, masks_dir)
    assert study_dataset_root(study) is None
    assert study_dataset_root(study_from_image_datasets(DEMO_DATASET, ["star"])) == DEMO_DATASET
    session = AnnotationSession.open(tmp_path / "session", "st1")
    image_id = study[1].image_id
    session.open_image(image_id)
    prompts = PromptSet()
    for x, y, label in ((12, 10, 1), (20, 12, 1), (2, 2, 0)):
        prompts = prompts.added(x, y, label)
        session.edit("add", prompts)
        decode_and_record(session, image_id, truth)
    try:
        data = load_session(session, study)
    finally:
        session.close()
    assert list(data.image_ids) == [image_id] and data.n_rounds == 1
    assert np.isfinite(data.rounds["mask_share"]).all()  # the ground truth reached the analysis
    assert len(data.steps["iou"]) == 3


def test_the_window_analyses_its_session_and_a_click_opens_the_image(qtbot, tmp_path):
    from core.prompting.click_simulation import most_interior_point
    from tests.test_main_window import click, open_window, wait_for_timesteps

    window = open_window(qtbot, tmp_path, study_from_image_datasets(DEMO_DATASET, ["ellipse"]))
    try:
        for index in (0, 1):
            window.controller.open_index(index)
            qtbot.waitUntil(lambda: window.controller.truth is not None, timeout=LONG)
            click(qtbot, window, *most_interior_point(window.controller.truth))
            wait_for_timesteps(qtbot, window, 1)
        panel = window.analysis
        assert window.tabs.indexOf(panel) >= 0 and window.tabs.tabText(window.tabs.indexOf(panel)) == "Analysis"
        window.tabs.setCurrentWidget(panel)
        with qtbot.waitSignal(panel.loaded, timeout=LONG):
            panel.session_button.click()
        assert sorted(panel.data.image_ids) == ["ellipse/0", "ellipse/1"]
        assert np.isfinite(panel.data.rounds["mask_share"]).all()  # the study's dataset gave the ground truth
        assert window.controller.current.image_id == "ellipse/1"
        row = int(np.flatnonzero(panel.data.image_ids == "ellipse/0")[0])
        i = int(np.flatnonzero(panel.curves.pick_rows == row)[0])
        qtbot.waitUntil(lambda: panel.curves.isVisible())
        qtbot.mouseClick(panel.curves.viewport(), Qt.MouseButton.LeftButton, pos=panel.curves.widget_pos(i))
        qtbot.waitUntil(lambda: window.controller.current.image_id == "ellipse/0", timeout=LONG)
        assert not panel.open_image("bar/3") and "bar/3 is not in the open study" in panel.status_label.text()
    finally:
        window.close()
