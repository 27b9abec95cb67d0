"""The real main window, offscreen: a click runs SAM off the UI thread and shows core's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET
from core.prompting.click_simulation import most_interior_point
from core.prompting.metrics import iou
from desktop.main_window import SHOWN_OUTPUT, MainWindow


@pytest.fixture
def window(qtbot):
    window = MainWindow(DEMO_DATASET, device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_description != "", timeout=60_000)
    yield window
    window.close()


def click(qtbot, window, x, y, button=Qt.MouseButton.LeftButton):
    position = window.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    qtbot.mouseClick(window.canvas.viewport(), button, pos=position)


def test_window_opens_on_the_demo_dataset_with_the_tiny_model(window):
    assert window.category_box.count() >= 3
    assert window.image_list.count() >= 12
    assert window.current is not None and window.current.image.shape == (240, 320, 3)
    assert window.model_description.startswith("tiny-")


def test_clicks_give_the_same_mask_and_iou_as_core(qtbot, window):
    truth = window.current.truth
    x, y = most_interior_point(truth)
    click(qtbot, window, x, y)
    qtbot.waitUntil(lambda: window.last_result is not None, timeout=30_000)
    assert window.prompts[window.current.name] == ([(x, y)], [1])

    engine = SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)
    expected = engine.decode(engine.embed(window.current.image), np.array([[x, y]]), np.array([1]))
    shown = window.last_result.decoded.masks[SHOWN_OUTPUT]
    np.testing.assert_array_equal(shown, expected.masks[SHOWN_OUTPUT])
    assert f"IoU {iou(shown, truth):.3f}" in window.score_label.text()

    click(qtbot, window, 3, 3, Qt.MouseButton.RightButton)  # an exclusion point in the corner
    qtbot.waitUntil(lambda: len(window.last_result.request.points) == 2, timeout=30_000)
    assert window.prompts[window.current.name][1] == [1, 0]


def test_clicks_outside_the_image_are_ignored(qtbot, window):
    position = window.canvas.mapFromScene(QPointF(-20, -20))
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)
    assert window.prompts.get(window.current.name, ([], []))[0] == []


def test_a_broken_checkpoint_keeps_the_app_usable(qtbot, window, tmp_path):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"nope")
    window.worker.load_model(broken, None, "cpu")
    qtbot.waitUntil(lambda: "Cannot load" in window.model_label.text(), timeout=30_000)
    assert "broken.pth" in window.model_label.text() and "Still using tiny-" in window.model_label.text()
    x, y = most_interior_point(window.current.truth)
    click(qtbot, window, x, y)
    qtbot.waitUntil(lambda: window.last_result is not None, timeout=30_000)


def test_a_folder_without_a_dataset_says_what_it_expected(qtbot, tmp_path):
    window = MainWindow(tmp_path, device="cpu")
    qtbot.addWidget(window)
    assert "No PointPrompt image dataset found in" in window.score_label.text()
    assert window.image_list.count() == 0
    window.close()


def test_a_damaged_category_is_reported_not_fatal(qtbot, tmp_path):
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "samples.npy").write_bytes(b"not numpy")
    window = MainWindow(tmp_path, device="cpu")
    qtbot.addWidget(window)
    assert "Cannot open category 'Broken'" in window.score_label.text() and "samples.npy" in window.score_label.text()
    window.close()
