"""The classifier panel's evaluation section: "Open evaluation…", the score chooser (with a log
axis for scores spanning many decades) and the trust-vs-MSP scatter (desktop.trust_scatter) of a
folder written by ``pointprompt evaluate-trust`` (read by desktop.evaluation_csv).

A bad folder or file leaves the last evaluation in place and says why in the section's status
line. A ``purview_detector.json`` in the folder is loaded (``detector``) so that the panel's
trust scores include the ``purview`` score. ``image_clicked`` carries a clicked point's file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.classifier_chooser import compact_combo
from desktop.evaluation_csv import EvaluationCsvError, EvaluationPoints, read_evaluation
from desktop.trust_scatter import TrustScatter, wants_log

PREFERRED_SCORES = ("gradtrust", "purview", "entropy")  # the first present is plotted first
ERROR_STYLE = "color: #b00020"


class EvaluationView(QWidget):
    """See the module docstring."""

    image_clicked = Signal(str)  # the clicked point's image file (resolved, see EvaluationPoints.resolve)
    opened = Signal()  # a new evaluation (and perhaps a detector) is on show

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.evaluation: EvaluationPoints | None = None
        self.detector = None  # core.gradients.purview.PurviewDetector of the open evaluation
        self.open_button = QPushButton("Open evaluation…")
        self.score_box = compact_combo()
        self.score_box.setToolTip("the trust score plotted against MSP")
        self.log_box = QCheckBox("log")
        self.log_box.setToolTip("log10 of the score (set for scores spanning many decades, e.g. GradTrust)")
        self.scatter = TrustScatter()
        self.status = QLabel("A folder written by pointprompt evaluate-trust: each image's trust score against "
                             "its MSP; click a point to classify that image.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.score_box, 1)
        row.addWidget(self.log_box)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.status)
        column.addWidget(self.scatter)
        self.open_button.clicked.connect(self.choose)
        self.score_box.currentIndexChanged.connect(lambda _: self._score_changed())
        self.log_box.toggled.connect(lambda _: self._plot())
        self.scatter.image_clicked.connect(
            lambda path: self.image_clicked.emit(str(self.evaluation.resolve(path) if self.evaluation else path)))

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a trust evaluation folder (evaluate-trust --out)")
        if folder:
            self.open(folder)

    def open(self, location: str | Path) -> bool:
        """Read an evaluation folder (or its per_image.csv) and plot it; False (and a message) when it cannot."""
        try:
            points = read_evaluation(location)
        except EvaluationCsvError as error:
            self.status.setText(str(error))
            self.status.setStyleSheet(ERROR_STYLE)
            return False
        self.evaluation, self.detector = points, None
        notes = []
        if points.detector is not None:
            from core.gradients.purview import PurviewDetector, PurviewDetectorError

            try:
                self.detector = PurviewDetector.load(points.detector)
            except PurviewDetectorError as error:
                notes.append(f"its Purview detector is not used: {error}")
        self.score_box.blockSignals(True)
        self.score_box.clear()
        for name in points.scores:
            if name != "msp":
                self.score_box.addItem(name, name)
        preferred = next((name for name in PREFERRED_SCORES if name in points.scores), None)
        self.score_box.setCurrentIndex(max(0, self.score_box.findData(preferred)))
        self.score_box.blockSignals(False)
        self.status.setStyleSheet("")
        self._score_changed(notes)
        self.opened.emit()
        return True

    def _score_changed(self, notes: list[str] | None = None) -> None:
        if self.evaluation is not None:
            values = self.evaluation.scores.get(self.score_box.currentData() or "msp")
            self.log_box.blockSignals(True)
            self.log_box.setChecked(values is not None and wants_log(values))
            self.log_box.blockSignals(False)
        self._plot(notes)

    def _plot(self, notes: list[str] | None = None) -> None:
        if self.evaluation is None:
            return
        score = self.score_box.currentData() or "msp"
        caption = self.scatter.show_points(self.evaluation, score, self.log_box.isChecked())
        self.status.setText(f"{self.evaluation.csv_path}: {caption}" + "".join(f"; {note}" for note in notes or []))
