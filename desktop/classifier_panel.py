"""The "Classifier" tab: an image classifier's view of the current image or of the current SAM
mask's crop, with its explanations and trust scores, and a trust-vs-confidence scatter of an
evaluated dataset.

* Source: the whole image, the box of the mask on the canvas padded by :data:`CROP_PADDING`
  of its longer side (:func:`mask_box`), or an image clicked in the scatter.
* The top-k predictions, the contrast class Q (default: the second most likely), the map
  (Grad-CAM family, contrast maps, VOICE's uncertainty) drawn over the canvas in the box of the
  image it explains (desktop.classifier_overlay) and over a small preview of that image.
* The trust scores with what a higher value means (desktop.classifier_tables).
* "Open evaluation…" (desktop.evaluation_view): a folder written by ``pointprompt evaluate-trust``,
  plotted as a chosen score against MSP; clicking a point classifies that image here (it does
  not join the study). A purview_detector.json in the folder adds the ``purview`` score.

Every model call runs on the classifier thread (desktop.classifier_worker); the panel only
sends requests and shows the newest answer. It works while its tab is on show: the canvas
overlay is hidden with the tab, and changes made meanwhile are classified when it comes back.
The first show loads the chosen classifier (the demo by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.classifier_chooser import ClassifierChooser, compact_combo
from desktop.classifier_overlay import CanvasMapLayer, map_image, preview_pixmap
from desktop.classifier_tables import TopKTable, TrustTable
from desktop.classifier_worker import (
    CONTRAST_METHODS,
    METHODS,
    ClassifierRequest,
    ClassifierResult,
    start_classifier_worker,
    stop_classifier_worker,
)
from desktop.evaluation_view import EvaluationView
from desktop.map_overlay import COLORMAPS, colour_bar

SOURCES = (("image", "Whole image"), ("crop", "Current SAM mask's box (padded)"),
           ("evaluation", "Evaluation image (click a point below)"))
SOURCE_NOUNS = {"image": "the whole image", "crop": "the SAM mask's crop", "evaluation": "the evaluation image"}
CROP_PADDING = 0.1  # of the mask box's longer side
MIN_PADDING = 4  # pixels
REFRESH_DELAY_MS = 120  # a burst of clicks asks the classifier once
PREVIEW_SIDE = 150
ERROR_STYLE = "color: #b00020"


def mask_box(mask: np.ndarray, padding: float = CROP_PADDING, minimum: int = MIN_PADDING
             ) -> tuple[int, int, int, int] | None:
    """(H, W) bool mask → the box (x0, y0, x1, y1), half-open pixels, of its True pixels, padded
    by ``padding`` × its longer side (at least ``minimum`` px) and clipped to the image; None if empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad = max(minimum, round(padding * max(x1 - x0, y1 - y0)))
    height, width = mask.shape
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)


class ClassifierPanel(QWidget):
    """See the module docstring. :meth:`attach` it to each new controller; :meth:`shutdown` on close."""

    def __init__(self, device: str = "cpu", parent=None) -> None:
        super().__init__(parent)
        self.device = device
        self.worker = self.thread_ = None  # started on first use
        self.controller = self.canvas = self.layer = None
        self.classifier_name: str | None = None
        self.loading = False
        self.result: ClassifierResult | None = None  # the answer on show
        self.dropped = 0  # stale answers not shown
        self._latest = 0  # serial of the newest request
        self._last_key = None  # what the newest request asked, to skip asking again
        self._dirty = True  # the source changed while the tab was hidden
        self.evaluation_image: tuple[str, np.ndarray] | None = None  # (path, (H, W, 3) uint8)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        self._build()

    # --- widgets -------------------------------------------------------------------------
    def _build(self) -> None:
        self.chooser = ClassifierChooser()
        self.status = QLabel("No classifier loaded yet.")
        self.status.setWordWrap(True)
        self.source_box = compact_combo()
        for key, text in SOURCES:
            self.source_box.addItem(text, key)
        self.run_button = QPushButton("Classify")
        self.top_table = TopKTable()
        self.method_box = compact_combo()
        for name, description in METHODS.items():
            self.method_box.addItem(name, name)
            self.method_box.setItemData(self.method_box.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.q_box = compact_combo()
        self.q_box.addItem("second most likely", None)
        self.overlay_box = QCheckBox("Overlay")
        self.overlay_box.setChecked(True)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 255)
        self.opacity.setValue(160)
        self.colormap_box = compact_combo()
        self.colormap_box.addItems(list(COLORMAPS))
        self.bar = QLabel()
        self.map_note = QLabel("")
        self.map_note.setWordWrap(True)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #282828")
        self.trust_table = TrustTable()
        self.evaluation_view = EvaluationView()

        source_row = QHBoxLayout()
        source_row.addWidget(self.source_box, 1)
        source_row.addWidget(self.run_button)
        style_row, colour_row = QHBoxLayout(), QHBoxLayout()
        style_row.addWidget(self.overlay_box)
        style_row.addWidget(self.opacity, 1)
        colour_row.addWidget(self.colormap_box, 1)
        colour_row.addWidget(self.bar)
        form = QFormLayout()
        form.addRow("Source", source_row)
        form.addRow("Map", self.method_box)
        form.addRow("Q", self.q_box)
        form.addRow(style_row)
        form.addRow("Colours", colour_row)
        shown = QHBoxLayout()
        shown.addWidget(self.top_table, 1)
        shown.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignTop)
        inner = QWidget()
        column = QVBoxLayout(inner)
        for part in (self.chooser, self.status, form, shown, self.map_note, QLabel("Trust scores"), self.trust_table,
                     self.evaluation_view):
            (column.addLayout if not isinstance(part, QWidget) else column.addWidget)(part)
        column.addStretch(1)
        scroll = QScrollArea()  # a short window scrolls the panel rather than squeezing it
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.chooser.load_requested.connect(self.load)
        self.chooser.invalid.connect(lambda text: self._say(text, error=True))
        self.run_button.clicked.connect(lambda: self.refresh(force=True))
        self.source_box.currentIndexChanged.connect(lambda _: self.refresh())
        self.method_box.currentIndexChanged.connect(lambda _: self._method_changed())
        self.q_box.currentIndexChanged.connect(lambda _: self.refresh())
        for signal in (self.overlay_box.toggled, self.opacity.valueChanged, self.colormap_box.currentIndexChanged):
            signal.connect(lambda _: self._draw_map())
        self.evaluation_view.image_clicked.connect(self.open_evaluation_image)
        self.evaluation_view.opened.connect(self.refresh)  # its Purview detector adds a score
        self._method_changed()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    # --- the classifier thread -----------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self.worker is None:
            self.worker, self.thread_ = start_classifier_worker()
            queued = Qt.ConnectionType.QueuedConnection
            self.worker.loaded.connect(self._on_loaded, queued)
            self.worker.load_failed.connect(self._on_load_failed, queued)
            self.worker.computed.connect(self._on_computed, queued)
            self.worker.failed.connect(self._on_failed, queued)

    def shutdown(self) -> None:
        """Stop the classifier thread (the window calls this as it closes)."""
        self._timer.stop()
        if self.worker is not None:
            stop_classifier_worker(self.worker, self.thread_)
            self.worker = self.thread_ = None

    def load(self, source: str, weights: str = "", class_names: str = "") -> None:
        """Load a classifier on its thread ("demo", an architecture with weights, a TorchScript file)."""
        self._ensure_worker()
        self.loading, self._last_key = True, None
        self._say(f"Loading the classifier {source}…")
        self.worker.load(source, weights or None, class_names or None, self.device)

    def _on_loaded(self, name: str, class_names: list) -> None:
        self.loading, self.classifier_name = False, name
        self._say(f"Classifier: {name} ({len(class_names)} classes).")
        self.result = None
        self._fill_q(None, class_names)
        self.refresh(force=True)

    def _on_load_failed(self, message: str) -> None:
        self.loading = False
        self._say(message, error=True)

    # --- following the window ------------------------------------------------------------
    def attach(self, controller, canvas) -> None:
        """Follow ``controller`` (its open image: ``loaded.image``; signals ``image_opened`` and
        ``result_changed``) and draw on ``canvas`` (desktop.image_canvas.ImageCanvas; its
        ``mask`` is the SAM mask the crop follows)."""
        self.controller = controller
        if canvas is not self.canvas:
            self.canvas, self.layer = canvas, CanvasMapLayer(canvas)
            self.layer.set_visible(self.isVisible() and self.overlay_box.isChecked())
        controller.image_opened.connect(self._image_changed)
        controller.result_changed.connect(self._mask_changed)
        self._image_changed()

    def _image_changed(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        self._latest, self._last_key = -1, None  # whatever is on its way belongs to the old image
        if self.layer is not None:
            self.layer.clear()
        if self.result is not None and self.result.request.origin != "evaluation":
            self.result = None
            self._show_result()
        self.schedule()

    def _mask_changed(self) -> None:
        if self.source_box.currentData() == "crop":
            self.schedule()

    def schedule(self) -> None:
        """Classify the source again soon, or when the tab is next shown."""
        self._dirty = True
        if self.isVisible():
            self._timer.start(REFRESH_DELAY_MS)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self.layer is not None:
            self.layer.set_visible(self.overlay_box.isChecked())
        if self.classifier_name is None and not self.loading:
            self.chooser.request_load()
        elif self._dirty:
            self._timer.start(0)

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().hideEvent(event)
        if self.layer is not None:
            self.layer.set_visible(False)

    # --- asking --------------------------------------------------------------------------
    def _source(self) -> ClassifierRequest | str:
        """The request for the chosen source, or why there is none."""
        origin = self.source_box.currentData()
        if origin == "evaluation":
            if self.evaluation_image is None:
                return "Open an evaluation and click a point of its scatter to classify that image."
            path, image = self.evaluation_image
            return ClassifierRequest(image, origin=origin, path=path)
        loaded = getattr(self.controller, "loaded", None)
        if loaded is None:
            return "No image is open."
        if origin == "image":
            return ClassifierRequest(loaded.image, origin=origin)
        mask = None if self.canvas is None else self.canvas.mask
        box = None if mask is None or mask.shape != loaded.image.shape[:2] else mask_box(mask)
        if box is None:
            return "No SAM mask on show: click the object first, or classify the whole image."
        x0, y0, x1, y1 = box
        return ClassifierRequest(np.ascontiguousarray(loaded.image[y0:y1, x0:x1]), box=box, origin=origin)

    def refresh(self, force: bool = False) -> None:
        """Ask the classifier about the chosen source with the chosen map and Q (unless the
        newest request asked exactly that)."""
        self._timer.stop()
        if not self.isVisible() and not force:
            self._dirty = True
            return
        self._dirty = False
        if self.classifier_name is None:
            if not self.loading:
                self.chooser.request_load()
            return
        request = self._source()
        if isinstance(request, str):  # nothing to classify: nothing shown either
            self._say(request)
            self._latest, self._last_key = -1, None
            if self.result is not None:
                self.result = None
                self._show_result()
            return
        method = self.method_box.currentData()
        request.method = method
        request.contrast = self.q_box.currentData() if method in CONTRAST_METHODS else None
        request.detector = self.evaluation_view.detector
        key = (request.origin, id(self.controller), id(getattr(self.controller, "loaded", None)), request.box,
               request.path, method, request.contrast, id(request.detector), self.classifier_name)
        if key == self._last_key and not force:
            return
        self._last_key = key
        self._latest = self.worker.request(request)
        self._say(f"Classifying {SOURCE_NOUNS[request.origin]} with {self.classifier_name}…")

    def _method_changed(self) -> None:
        self.q_box.setEnabled(self.method_box.currentData() in CONTRAST_METHODS)
        self.refresh()

    # --- answers -------------------------------------------------------------------------
    def _on_computed(self, result: ClassifierResult) -> None:
        if result.request.serial != self._latest:  # a newer request is on its way: stale
            self.dropped += 1
            return
        self.result = result
        self._fill_q(result.probabilities, result.class_names)
        self._show_result()
        self._say(f"{result.classifier}: {result.class_names[result.predicted]} "
                  f"({result.probabilities[result.predicted]:.3f}) · {result.seconds:.2f} s on the classifier thread"
                  + ("" if result.complete else " · computing VOICE and the trust scores…"))

    def _on_failed(self, serial: int, message: str) -> None:
        if serial == self._latest:
            self._say(message, error=True)

    def _fill_q(self, probabilities: np.ndarray | None, class_names: list[str]) -> None:
        """Q's choices: the second most likely, then every class but P, most likely first; a
        chosen class stays chosen."""
        chosen = self.q_box.currentData()
        if probabilities is None:
            order, label = list(range(len(class_names))), lambda i: class_names[i]
        else:
            order = [int(i) for i in np.argsort(-probabilities, kind="stable")[1:]]
            label = lambda i: f"{class_names[i]} ({probabilities[i]:.3f})"  # noqa: E731
        self.q_box.blockSignals(True)
        self.q_box.clear()
        self.q_box.addItem("second most likely", None)
        for i in order:
            self.q_box.addItem(label(i), i)
        self.q_box.setCurrentIndex(max(0, self.q_box.findData(chosen)) if chosen is not None else 0)
        self.q_box.blockSignals(False)
        if chosen is not None and self.q_box.currentData() != chosen:  # it became P: ask again
            self.refresh()

    def _show_result(self) -> None:
        result = self.result
        if result is None:
            self.top_table.set_rows([])
            self.trust_table.set_rows([])
            self.map_note.setText("")
            self._draw_map()
            return
        self.top_table.show_top(result.top, result.class_names)
        if result.complete:
            self.trust_table.show_scores(result.trust, result.voice)
        else:
            self.trust_table.set_rows([("computing…", "", "")])
        names, method = result.class_names, result.request.method
        parts = [f"<b>{method}</b>: {METHODS[method]}"]
        if result.contrast is not None:
            parts.append(f"P = {names[result.predicted]}, Q = {names[result.contrast]}")
        if method == "voice" and result.voice is not None:
            parts.append("contrasts: " + ", ".join(names[q] for q in result.voice.contrasts))
        parts += result.notes
        self.map_note.setText(" · ".join(parts))
        self._draw_map()

    def _draw_map(self) -> None:
        """Draw the shown result's map over the canvas (in its box) and the preview."""
        self.bar.setPixmap(QPixmap.fromImage(colour_bar(self.colormap_box.currentText(), 60, 12)))
        result = self.result
        values = None if result is None else result.map
        overlay = None if values is None or not self.overlay_box.isChecked() else \
            map_image(values, self.colormap_box.currentText(), self.opacity.value())
        if self.layer is not None:
            on_canvas = result is not None and result.request.origin != "evaluation"
            loaded = getattr(self.controller, "loaded", None)
            box = None if not on_canvas or loaded is None else \
                result.request.box or (0, 0, loaded.image.shape[1], loaded.image.shape[0])
            self.layer.show_map(overlay, box)
            self.layer.set_visible(self.isVisible() and self.overlay_box.isChecked())
        if result is None:
            self.preview.clear()
        else:
            self.preview.setPixmap(preview_pixmap(result.request.image, overlay, PREVIEW_SIDE))

    # --- evaluation ----------------------------------------------------------------------
    def open_evaluation_image(self, path: str) -> None:
        """Classify the image of a clicked scatter point (shown in the preview, not in the study)."""
        from core.io.images import ImageReadError, read_image

        file = Path(path)
        try:
            image = read_image(file)
        except (ImageReadError, OSError, ValueError) as error:
            self._say(f"Cannot open the clicked image: {error}", error=True)
            return
        self.evaluation_image = (str(file), image)
        self._last_key = None
        if self.source_box.currentData() != "evaluation":
            self.source_box.setCurrentIndex(self.source_box.findData("evaluation"))  # refreshes
        else:
            self.refresh()
