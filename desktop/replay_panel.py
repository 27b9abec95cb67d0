"""Replay published PointPrompt results on the current image: step through an annotator's
timesteps (points, mask, score) and re-run the sequence through the loaded model.

While a replay is shown the canvas is read-only; "Back to annotating" restores the session view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.analysis.replay import prompts_at
from core.io.pointprompt_results import ImageResults, ResultsError, list_annotators, read_image_results


class ReplayPanel(QWidget):
    """Emits ``active_changed(bool)`` when a replay starts or ends; the window repaints from it."""

    active_changed = Signal(bool)

    def __init__(self, window, parent=None) -> None:
        super().__init__(parent)
        self.window = window
        self.root: Path | None = None
        self.results: ImageResults | None = None
        self.rerun: np.ndarray | None = None
        self._rerun_serial = 0
        self.open_button = QPushButton("Open results…")
        self.open_button.clicked.connect(self.choose_root)
        self.annotator_box = QComboBox()
        self.annotator_box.currentTextChanged.connect(lambda _: self.load_current())
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.show_timestep)
        self.info = QLabel("Open a PointPrompt results folder (the one holding category folders).")
        self.info.setWordWrap(True)
        self.rerun_button = QPushButton("Re-run with the loaded model")
        self.rerun_button.clicked.connect(self.request_rerun)
        self.back_button = QPushButton("Back to annotating")
        self.back_button.clicked.connect(self.stop)
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.annotator_box, 1)
        column = QVBoxLayout(self)
        column.addLayout(top)
        column.addWidget(self.slider)
        column.addWidget(self.info)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.back_button)
        column.addLayout(buttons)
        window.worker.replayed.connect(self._on_replayed)
        self._set_enabled(False)

    @property
    def active(self) -> bool:
        return self.results is not None

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.slider, self.rerun_button, self.back_button):
            widget.setEnabled(on)

    def choose_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "PointPrompt results folder")
        if folder:
            self.open_root(Path(folder))

    def open_root(self, root: Path) -> None:
        """Use results under ``root`` (``<root>/<category>/<annotator>/…``) for the current image."""
        self.root = root
        self.load_current()

    def load_current(self) -> None:
        """Load the chosen annotator's results for the image open in the window."""
        image = self.window.controller.current
        if self.root is None or image is None:
            return
        annotators = list_annotators(self.root, image.category)
        if [self.annotator_box.itemText(i) for i in range(self.annotator_box.count())] != annotators:
            self.annotator_box.blockSignals(True)
            self.annotator_box.clear()
            self.annotator_box.addItems(annotators)
            self.annotator_box.blockSignals(False)
        annotator = self.annotator_box.currentText()
        if not annotator:
            self.info.setText(f"No annotator folders with results under {self.root / image.category}.")
            return self.stop()
        try:
            self.results = read_image_results(self.root / image.category / annotator, image.index)
        except ResultsError as error:
            self.info.setText(str(error))
            return self.stop()
        if not len(self.results):
            self.info.setText(f"{annotator} has no timesteps for image index {image.index}.")
            return self.stop()
        self.rerun = None
        self.window.worker.cancel_replay()
        self._rerun_serial = 0
        self.window.plot.show_replay(None)
        self.slider.setRange(0, len(self.results) - 1)
        self._set_enabled(True)
        self.active_changed.emit(True)
        self.slider.setValue(0)
        self.show_timestep(0)

    def show_timestep(self, t: int) -> None:
        if self.results is None or not 0 <= t < len(self.results):
            return
        canvas = self.window.canvas
        points, labels = prompts_at(self.results, t)
        canvas.set_points(points, labels)
        try:
            canvas.set_mask(self.results.mask(t))
        except ResultsError as error:
            canvas.set_mask(None)
            self.info.setText(str(error))
            return
        rerun = "" if self.rerun is None else f" · re-run {self.rerun[t]:.3f}"
        self.info.setText(f"{self.annotator_box.currentText()} · timestep {t + 1}/{len(self.results)} · round "
                          f"{self.results.rounds[t] + 1} · {int(labels.sum())} inclusion, "
                          f"{int((labels == 0).sum())} exclusion · published IoU {self.results.scores[t]:.3f}{rerun}")

    def request_rerun(self) -> None:
        controller = self.window.controller
        if self.results is None or controller.loaded is None or controller.truth is None:
            self.info.setText("Re-running needs the image's ground truth.")
            return
        self.info.setText("Re-running the sequence…")
        self._rerun_serial = self.window.worker.request_replay(controller.loaded.image, controller.truth, self.results)

    def _on_replayed(self, serial: int, scores) -> None:
        if self.results is None or serial != self._rerun_serial or len(scores) != len(self.results):
            return  # an answer for another annotator, image or replay
        self.rerun = np.asarray(scores)
        self.window.plot.show_replay(list(self.rerun))
        self.window.plot.show_timesteps(list(self.results.scores), list(self.results.rounds),
                                        int(self.results.sorts[0]), "published IoU (blue) vs re-run (orange)")
        self.show_timestep(self.slider.value())

    def stop(self) -> None:
        was_active = self.results is not None
        self.results, self.rerun, self._rerun_serial = None, None, 0
        self._set_enabled(False)
        self.window.worker.cancel_replay()
        self.window.plot.show_replay(None)
        if was_active:
            self.active_changed.emit(False)
