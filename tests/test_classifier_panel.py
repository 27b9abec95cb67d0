"""The classifier panel on the demo classifier, offscreen: top-k, Q, maps over the canvas, the crop
of the SAM mask, work off the UI thread, stale answers dropped, the evaluation scatter and its
clicks, malformed evaluation files.

Every number the panel shows is compared with a direct core call on the same image.
"""

from __future__ import annotations

import csv
import threading
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QObject, QPointF, Qt, Signal

import core.gradients.explain_image as explain_module
from core.gradients.explain_image import explain_image
from core.models.classifier_loading import load_classifier
from core.synthetic.shape_classes import render_shape_image
from desktop.classifier_panel import ClassifierPanel, mask_box
from desktop.evaluation_csv import CORRECT, INCORRECT, OOD, read_evaluation
from desktop.image_canvas import ImageCanvas

WAIT = 60_000  # a guard against a hang, not a time limit


class FakeController(QObject):
    """What the panel follows of desktop.annotation_controller.AnnotationController."""

    image_opened = Signal()
    result_changed = Signal()

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.loaded = SimpleNamespace(image=image)


@pytest.fixture(scope="module")
def record():
    return load_classifier("demo")


@pytest.fixture(scope="module")
def star():
    return render_shape_image(np.random.default_rng(3), "star")


@pytest.fixture
def canvas(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    return canvas


@pytest.fixture
def panel(qtbot):
    panel = ClassifierPanel()
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()


def show_on(qtbot, panel, canvas, image):
    canvas.set_image(image)
    controller = FakeController(image)
    panel.attach(controller, canvas)
    panel.show()
    wait_for(qtbot, panel)
    return controller


def choose(box, data):
    box.setCurrentIndex(box.findData(data))


def wait_for(qtbot, panel, **expected):
    """The panel's result once it is complete (trust scores too) and as ``expected`` (request or result fields)."""
    def done():
        result = panel.result
        return result is not None and result.complete and all(getattr(result.request, key, getattr(result, key, None)) == value
                                          for key, value in expected.items())
    qtbot.waitUntil(done, timeout=WAIT)
    return panel.result


def test_top_k_of_a_star_off_the_ui_thread(qtbot, panel, canvas, record, star):
    show_on(qtbot, panel, canvas, star.image)
    result = panel.result
    direct = explain_image(record, star.image, "gradcam")
    assert result.class_names[result.predicted] == "star"
    assert result.thread != threading.get_ident()  # computed on the classifier thread
    np.testing.assert_allclose(result.probabilities, direct.probabilities, atol=1e-5)
    probabilities = [p for _, p in result.top]
    assert result.top[0][0] == result.predicted and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6
    assert panel.top_table.column(0)[0] == "star"
    assert [float(text) for text in panel.top_table.column(1)] == pytest.approx(probabilities, abs=1e-4)
    np.testing.assert_allclose(result.map, direct.map, atol=1e-5)
    assert panel.layer.box == (0, 0, 64, 64) and panel.layer.shown  # over the whole canvas image
    scores = dict(zip(panel.trust_table.column(0), panel.trust_table.column(2)))
    assert scores["MSP"] == "trust" and scores["Entropy"] == "less sure"
    assert result.trust["msp"] == pytest.approx(float(direct.probabilities.max()), abs=1e-5)


def test_q_changes_the_contrast_map(qtbot, panel, canvas, record, star):
    show_on(qtbot, panel, canvas, star.image)
    choose(panel.method_box, "contrast")
    order = np.argsort(-panel.result.probabilities)
    first = wait_for(qtbot, panel, method="contrast")
    assert first.contrast == order[1]  # default Q: the second most likely
    choose(panel.q_box, int(order[2]))
    second = wait_for(qtbot, panel, method="contrast", contrast=int(order[2]))
    direct = explain_image(record, star.image, "contrast", contrast=int(order[2]))
    np.testing.assert_allclose(second.map, direct.map, atol=1e-5)
    assert not np.allclose(first.map, second.map, atol=1e-3)
    assert "Q = " + second.class_names[int(order[2])] in panel.map_note.text()
    choose(panel.method_box, "voice")
    voice = wait_for(qtbot, panel, method="voice")
    np.testing.assert_allclose(voice.map, voice.voice.uncertainty)
    assert "VOICE IoU(E, U)" in panel.trust_table.column(0)


def test_the_crop_of_the_sam_mask(qtbot, panel, canvas, star):
    image = np.full((150, 200, 3), 128, np.uint8)
    image[40:104, 90:154] = star.image
    mask = np.zeros(image.shape[:2], bool)
    mask[40:104, 90:154] = star.mask
    controller = show_on(qtbot, panel, canvas, image)
    answers = []
    panel.worker.computed.connect(lambda result: answers.append(result.complete), Qt.ConnectionType.DirectConnection)
    canvas.set_mask(mask)
    choose(panel.source_box, "crop")
    box = mask_box(mask)
    result = wait_for(qtbot, panel, origin="crop")
    assert result.request.box == box and panel.layer.box == box
    x0, y0, x1, y1 = box
    np.testing.assert_array_equal(result.request.image, image[y0:y1, x0:x1])
    assert result.map.shape == (y1 - y0, x1 - x0)
    assert result.class_names[result.predicted] == "star"
    assert answers == [False, True]  # a new image: top-k and map first, then VOICE and the trust scores
    canvas.set_mask(None)  # no mask: a message, not a request
    controller.result_changed.emit()
    qtbot.waitUntil(lambda: "No SAM mask" in panel.status.text(), timeout=WAIT)
    assert panel.result is None and not panel.layer.shown  # the old crop's map is not left on show


def test_mask_box_pads_and_clips():
    mask = np.zeros((50, 60), bool)
    mask[10:20, 2:42] = True  # 40 wide: padded by 4
    assert mask_box(mask) == (0, 6, 46, 24)
    assert mask_box(np.zeros((5, 5), bool)) is None


def test_stale_answers_are_dropped(qtbot, panel, canvas, star, monkeypatch):
    show_on(qtbot, panel, canvas, star.image)
    real, started, release = explain_module.explain_image, threading.Event(), threading.Event()

    def held(record, image, method="gradcam", **options):
        if method == "gradcam++":  # the first request waits until the second has been sent
            started.set()
            release.wait(30)
        return real(record, image, method, **options)

    monkeypatch.setattr(explain_module, "explain_image", held)
    emitted = []
    panel.worker.computed.connect(lambda result: emitted.append(result.request.method),
                                  Qt.ConnectionType.DirectConnection)
    choose(panel.method_box, "gradcam++")
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    stale = panel._latest
    choose(panel.method_box, "counterfactual")
    release.set()
    result = wait_for(qtbot, panel, method="counterfactual")
    assert emitted == ["counterfactual"]  # the superseded computation never answered
    assert result.request.serial > stale
    old = SimpleNamespace(**vars(result))  # an answer arriving late is not shown
    old.request = SimpleNamespace(serial=stale)
    panel._on_computed(old)
    assert panel.result is result and panel.dropped == 1


def write_evaluation(folder, rows):
    columns = ["set", "corruption", "level", "path", "image_id", "label", "label_name", "prediction",
               "prediction_name", "correct", "msp", "entropy", "gradtrust"]
    with open(folder / "per_image.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def evaluation(tmp_path):
    rows = []
    for i, (kind, correct) in enumerate((("clean", 1), ("clean", 1), ("clean", 0), ("ood", ""), ("noise-1", 1))):
        shape = render_shape_image(np.random.default_rng(i), ("star", "disc", "ring", "heart", "star")[i])
        path = tmp_path / f"image{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(shape.image, cv2.COLOR_RGB2BGR))
        rows.append({"set": kind, "path": path.name, "image_id": i, "correct": correct, "msp": 0.5 + 0.1 * i,
                     "entropy": 1.0 - 0.1 * i, "gradtrust": "nan" if i == 1 else 0.2 * i})
    write_evaluation(tmp_path, rows)
    return tmp_path


def test_evaluation_scatter_and_click(qtbot, panel, canvas, star, evaluation):
    show_on(qtbot, panel, canvas, star.image)
    points = read_evaluation(evaluation)
    assert list(points.kinds) == [CORRECT, CORRECT, INCORRECT, OOD] and points.skipped == 1
    view = panel.evaluation_view
    assert view.open(evaluation)
    assert view.score_box.currentData() == "gradtrust" and view.detector is None
    assert len(view.scatter.layers[CORRECT].points()) == 1  # the NaN row is left out
    assert "1 without a gradtrust" in view.status.text()
    spot = view.scatter.layers[INCORRECT].points()[0]
    assert (spot.pos().x(), spot.pos().y()) == pytest.approx((0.7, 0.4))
    qtbot.wait(50)  # the plot lays itself out
    where = view.scatter.mapFromScene(view.scatter.plotItem.vb.mapViewToScene(QPointF(spot.pos().x(), spot.pos().y())))
    with qtbot.waitSignal(view.scatter.image_clicked, timeout=WAIT) as clicked:
        qtbot.mouseClick(view.scatter.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert clicked.args == ["image2.png"]  # as the CSV has it; the panel opens it beside the CSV
    result = wait_for(qtbot, panel, origin="evaluation")
    assert result.request.path == str(evaluation / "image2.png")
    assert result.class_names[result.predicted] == "ring"
    assert not panel.layer.shown  # drawn on the preview, not over the study image
    assert not panel.preview.pixmap().isNull()
    choose(view.score_box, "entropy")
    assert len(view.scatter.layers[CORRECT].points()) == 2


@pytest.mark.parametrize("content", [b"set,path\nclean,a.png\n", b"\x89PNG\x00\x01\xff\xfe garbage",
                                     b"set,path,correct,msp\nclean,\"" + b"a" * 200_000 + b"\",1,0.5\n", b"",
                                     b"set,path,correct,msp\nnoise-1,a.png,1,0.5\n"])
def test_malformed_evaluations_give_a_message(qtbot, panel, tmp_path, content):
    (tmp_path / "per_image.csv").write_bytes(content)
    view = panel.evaluation_view
    assert not view.open(tmp_path)
    assert view.evaluation is None and view.status.text()
    assert not view.open(tmp_path / "missing")
    assert "per_image.csv" in view.status.text()


def test_an_unreadable_clicked_image_gives_a_message(qtbot, panel, tmp_path):
    write_evaluation(tmp_path, [{"set": "clean", "path": "a\x00.png", "correct": 1, "msp": 0.9},
                                {"set": "ood", "path": "missing.png", "msp": 0.4}])
    assert panel.evaluation_view.open(tmp_path)
    for path in panel.evaluation_view.evaluation.paths:
        panel.open_evaluation_image(path)
        assert "Cannot open the clicked image" in panel.status.text()


def test_evaluation_limits(tmp_path, monkeypatch):
    import desktop.evaluation_csv as evaluation_csv

    write_evaluation(tmp_path, [{"set": "clean", "path": "a.png", "correct": 1, "msp": 0.9}] * 5)
    monkeypatch.setattr(evaluation_csv, "MAX_ROWS", 3)
    with pytest.raises(evaluation_csv.EvaluationCsvError, match="more than 3 rows"):
        read_evaluation(tmp_path)
    monkeypatch.setattr(evaluation_csv, "MAX_BYTES", 10)
    with pytest.raises(evaluation_csv.EvaluationCsvError, match="MB"):
        read_evaluation(tmp_path / "per_image.csv")


def test_a_bad_classifier_file_gives_a_message(qtbot, panel, tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    panel.chooser.choose(str(bad))
    panel.chooser.request_load()
    qtbot.waitUntil(lambda: not panel.loading, timeout=WAIT)
    assert "Cannot load the classifier" in panel.status.text() and panel.classifier_name is None
    choose(panel.chooser.kind, "resnet18")
    panel.chooser.file.setText("")
    panel.chooser.request_load()
    assert "weights" in panel.status.text()


def test_the_classifier_tab_of_the_window(qtbot, tmp_path):
    from core.prompting.click_simulation import most_interior_point
    from tests.test_main_window import click, open_window, wait_for_timesteps

    window = open_window(qtbot, tmp_path)
    try:
        panel = window.classifier_panel
        assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Classifier" and panel.worker is None
        window.tabs.setCurrentWidget(panel)  # the first show loads the demo classifier and classifies
        result = wait_for(qtbot, panel, origin="image")
        image = window.controller.loaded.image
        assert result.request.image is image and panel.layer.box == (0, 0, image.shape[1], image.shape[0])
        click(qtbot, window, *most_interior_point(window.controller.truth))
        wait_for_timesteps(qtbot, window, 1)
        choose(panel.source_box, "crop")
        result = wait_for(qtbot, panel, origin="crop")
        assert result.request.box == mask_box(window.canvas.mask) == panel.layer.box
        window.tabs.setCurrentWidget(window.overlays)
        assert not panel.layer.item.isVisible()  # the overlay goes with the tab
    finally:
        window.close()
    assert panel.worker is None


def test_log_axis_for_scores_spanning_decades(qtbot, tmp_path):
    from desktop.trust_scatter import TrustScatter, wants_log

    assert wants_log(np.array([1e-9, 1e-3, 2.0, np.nan])) and not wants_log(np.array([0.0, 1e-9, 2.0]))
    write_evaluation(tmp_path, [{"set": "clean", "path": f"{i}.png", "correct": 1, "msp": 0.9, "gradtrust": value}
                                for i, value in enumerate((1e-9, 1e-2, 0.0))])
    scatter = TrustScatter()
    qtbot.addWidget(scatter)
    caption = scatter.show_points(read_evaluation(tmp_path), "gradtrust", log=True)
    assert [spot.pos().y() for spot in scatter.layers[CORRECT].points()] == pytest.approx([-9, -2])
    assert "1 without a positive gradtrust" in caption


def test_a_torchscript_classifier_has_scores_but_no_maps(qtbot, panel, canvas, record, star, tmp_path):
    import warnings

    import torch

    path = tmp_path / "demo.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
        torch.jit.script(record.model).save(str(path))
    panel.load(str(path))  # ImageNet preprocessing at 224 px: its numbers differ from the demo's own
    qtbot.waitUntil(lambda: panel.classifier_name is not None, timeout=WAIT)
    show_on(qtbot, panel, canvas, star.image)
    result = panel.result
    assert result.map is None and result.voice is None and not panel.layer.shown
    assert "No gradcam map" in panel.map_note.text()
    values = dict(zip(panel.trust_table.column(0), panel.trust_table.column(1)))
    assert values["GradNorm"] == "n/a" and float(values["MSP"]) == pytest.approx(max(result.probabilities), abs=1e-4)


def test_the_classifier_options(qtbot):
    from desktop.app import parse_args
    from desktop.classifier_chooser import TORCHSCRIPT, ClassifierChooser

    args = parse_args(["--classifier", "resnet18", "--classifier-weights", "w.pth"])
    assert (args.classifier, str(args.classifier_weights)) == ("resnet18", "w.pth")
    assert parse_args([]).classifier is None
    chooser = ClassifierChooser()
    qtbot.addWidget(chooser)
    with qtbot.waitSignal(chooser.load_requested) as asked:
        chooser.choose("resnet18", "w.pth")
        chooser.request_load()
    assert asked.args == ["resnet18", "w.pth", ""]
    chooser.choose("model.pt")
    assert chooser.kind.currentData() == TORCHSCRIPT and chooser.file.text() == "model.pt"
