"""The main window: pick a demo image, click points, see SAM's mask and its IoU.

This is the first, small form of the annotation app: the full study workflow (undo, rounds,
event log, export) grows on top of it. All numbers shown come from core functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.io.image_datasets import DatasetError, DatasetImage, list_categories, read_category
from core.prompting.metrics import dice, iou
from desktop.image_canvas import ImageCanvas
from desktop.inference_worker import DecodeRequest, DecodeResult, start_worker, stop_worker

SHOWN_OUTPUT = 0  # PointPrompt shows and scores the first of SAM's three multimask outputs


class MainWindow(QMainWindow):
    """See the module docstring. ``dataset_root``: a PointPrompt "Image datasets" folder."""

    def __init__(self, dataset_root: Path, checkpoint: Path | None = None, variant: str | None = None,
                 device: str = "auto") -> None:
        super().__init__()
        self.setWindowTitle("PointPrompt Studio")
        self.dataset_root = dataset_root
        self.entries: list[DatasetImage] = []
        self.current: DatasetImage | None = None
        self.prompts: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}
        self.latest_serial = 0
        self.last_result: DecodeResult | None = None
        self.model_description = ""

        self.canvas = ImageCanvas()
        self.category_box = QComboBox()
        self.image_list = QListWidget()
        self.model_label = QLabel("Loading model…")
        self.score_label = QLabel("Click the object: left = inclusion, right = exclusion")
        self.score_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build_layout()
        self._build_actions()

        self.worker, self.thread = start_worker()
        self.worker.model_loaded.connect(self._on_model_loaded)
        self.worker.model_failed.connect(self._on_model_failed)
        self.worker.decoded.connect(self._on_decoded)
        self.worker.failed.connect(self.statusBar().showMessage)
        self.canvas.clicked.connect(self.add_point)
        self.category_box.currentTextChanged.connect(self.open_category)
        self.image_list.currentRowChanged.connect(self.open_image)

        self.worker.load_model(checkpoint, variant, device)
        categories = list_categories(dataset_root)
        if not categories:
            self.score_label.setText(f"No PointPrompt image dataset found in {dataset_root}: expected "
                                     "<category>/samples.npy or samples/<category>/<i>_sample.npy")
        self.category_box.addItems(categories)

    def _build_layout(self) -> None:
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(QLabel("Category"))
        column.addWidget(self.category_box)
        column.addWidget(QLabel("Images"))
        column.addWidget(self.image_list)
        column.addWidget(self.model_label)
        self.model_label.setWordWrap(True)
        centre = QWidget()
        stack = QVBoxLayout(centre)
        stack.addWidget(self.canvas, 1)
        stack.addWidget(self.score_label)
        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(centre)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.resize(1100, 700)

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        open_checkpoint = QAction("Open SAM &checkpoint…", self)
        open_checkpoint.triggered.connect(self.choose_checkpoint)
        menu.addAction(open_checkpoint)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)
        edit = self.menuBar().addMenu("&Edit")
        clear = QAction("&Clear points", self, shortcut=QKeySequence("Space"))
        clear.triggered.connect(self.clear_points)
        edit.addAction(clear)
        for text, key, step in (("&Next image", "N", 1), ("&Previous image", "P", -1)):
            action = QAction(text, self, shortcut=QKeySequence(key))
            action.triggered.connect(lambda _=False, s=step: self.step_image(s))
            edit.addAction(action)

    # --- data ------------------------------------------------------------------------------
    def open_category(self, category: str) -> None:
        try:
            self.entries = read_category(self.dataset_root, category)
        except DatasetError as error:
            self.entries = []
            self.score_label.setText(f"Cannot open category {category!r}: {error}")
        self.image_list.clear()
        self.image_list.addItems([entry.name for entry in self.entries])
        self.image_list.setCurrentRow(0)

    def open_image(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        self.current = self.entries[row]
        self.canvas.set_image(self.current.image)
        self.worker.request_embedding(self.current.name, self.current.image)
        self._prompt_changed()

    def step_image(self, step: int) -> None:
        row = self.image_list.currentRow() + step
        if 0 <= row < self.image_list.count():
            self.image_list.setCurrentRow(row)

    # --- prompting -------------------------------------------------------------------------
    def _prompt_lists(self) -> tuple[list[tuple[int, int]], list[int]]:
        return self.prompts.setdefault(self.current.name, ([], []))

    def add_point(self, x: int, y: int, label: int) -> None:
        """Add a point (x, y) in image pixels with label 1 (inclusion) or 0 (exclusion)."""
        if self.current is None:
            return
        points, labels = self._prompt_lists()
        points.append((x, y))
        labels.append(label)
        self._prompt_changed()

    def clear_points(self) -> None:
        if self.current is not None:
            self.prompts[self.current.name] = ([], [])
            self._prompt_changed()

    def _prompt_changed(self) -> None:
        points, labels = self._prompt_lists()
        point_array = np.array(points, dtype=np.float64).reshape(-1, 2)
        label_array = np.array(labels, dtype=np.int64)
        self.canvas.set_points(point_array, label_array)
        if not points:
            self.latest_serial = 0
            self.canvas.set_mask(None)
            self.score_label.setText("Click the object: left = inclusion, right = exclusion")
            return
        self.latest_serial = self.worker.request_decode(
            DecodeRequest(self.current.name, self.current.image, point_array, label_array))

    def _on_decoded(self, result: DecodeResult) -> None:
        if result.request.serial != self.latest_serial:
            return  # an answer to a prompt set that has changed since
        self.last_result = result
        mask = result.decoded.masks[SHOWN_OUTPUT]
        self.canvas.set_mask(mask)
        text = f"SAM predicted IoU {result.decoded.predicted_iou[SHOWN_OUTPUT]:.3f}"
        if self.current.truth is not None:
            text = (f"IoU {iou(mask, self.current.truth):.3f}   Dice {dice(mask, self.current.truth):.3f}   "
                    + text)
        self.score_label.setText(f"{text}   ({len(result.request.points)} points, "
                                 f"decode {1000 * result.seconds:.0f} ms)")

    # --- model -----------------------------------------------------------------------------
    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open SAM checkpoint", "", "PyTorch checkpoints (*.pth *.pt)")
        if path:
            self.model_label.setText(f"Loading {path}…")
            self.worker.load_model(Path(path), None, "auto")

    def _on_model_loaded(self, description: str) -> None:
        self.model_description = description
        self.model_label.setText(f"Model: {description}")
        if self.current is not None:
            self.worker.request_embedding(self.current.name, self.current.image)
            self._prompt_changed()

    def _on_model_failed(self, message: str) -> None:
        """Say why, without a modal dialog; the previous model (if any) stays in use."""
        kept = f"Still using {self.model_description}." if self.model_description else "No model loaded."
        self.model_label.setText(f"<b>Cannot load the model.</b> {message} {kept}")
        self.statusBar().showMessage(message)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        stop_worker(self.thread)
        super().closeEvent(event)
