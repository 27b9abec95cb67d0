"""The Analysis tab: the plots ``pointprompt analyze`` writes as PNG, interactive, for the open
study's session or any PointPrompt results folder.

"Analyse this session" exports the window's session to a temporary folder and analyses it with
the study's ground truth; "Open results folder…" asks for a "Prompting results" folder and an
optional "Image datasets" folder. The work runs on an :class:`~desktop.analysis_thread.AnalysisThread`
(progress bar, Cancel). The charts (desktop.analysis_charts) follow the category and annotator
filters; hovering a curve or point names its image, annotator and round, and clicking one emits
``image_clicked(image_id)`` and opens that image when it is in the window's study.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.analysis_charts import CurvesChart, LossChart, ScatterChart
from desktop.analysis_data import FEATURES, AnalysisData
from desktop.analysis_thread import AnalysisThread, load_results, load_session

ALL = "all"
QUEUED = Qt.ConnectionType.QueuedConnection


class AnalysisPanel(QWidget):
    """``window``: the MainWindow (its session, images, table and options), or None (results folders only)."""

    image_clicked = Signal(str)
    loaded = Signal()  # new data is shown
    ended = Signal(str)  # an analysis ended without data: the message shown (failed or cancelled)

    def __init__(self, window=None, parent=None) -> None:
        super().__init__(parent)
        self.window = window
        self.data: AnalysisData | None = None
        self.job: AnalysisThread | None = None
        self.session_button = QPushButton("Analyse this session")
        self.session_button.clicked.connect(self.analyse_session)
        self.session_button.setEnabled(window is not None)
        self.open_button = QPushButton("Open results folder…")
        self.open_button.clicked.connect(self.choose_results)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.summary_label = QLabel("Analyse this session, or open a PointPrompt results folder.")
        self.status_label = QLabel("")
        for label in (self.summary_label, self.status_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.category_box, self.annotator_box, self.feature_box = QComboBox(), QComboBox(), QComboBox()
        for kind, name in FEATURES:
            self.feature_box.addItem(f"{name} ({kind})", f"{kind}:{name}")
        self.curves, self.losses, self.scatter = CurvesChart(), LossChart(), ScatterChart()
        self._build_layout()
        for box in (self.category_box, self.annotator_box):
            box.currentIndexChanged.connect(lambda _: self.refresh())
        self.feature_box.currentIndexChanged.connect(lambda _: self.show_feature())
        for chart in (self.curves, self.losses, self.scatter):
            chart.hovered.connect(partial(self._hovered, chart))
            chart.clicked.connect(partial(self._clicked, chart))
        self.image_clicked.connect(self.open_image)
        self._set_running(False)

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        for widget in (self.session_button, self.open_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        filters = QHBoxLayout()
        for text, box in (("Category", self.category_box), ("Annotator", self.annotator_box)):
            filters.addWidget(QLabel(text))
            filters.addWidget(box, 1)
        feature_page = QWidget()
        feature_column = QVBoxLayout(feature_page)
        feature_column.setContentsMargins(0, 0, 0, 0)
        feature_row = QHBoxLayout()
        feature_row.addWidget(QLabel("Feature"))
        feature_row.addWidget(self.feature_box, 1)
        feature_column.addLayout(feature_row)
        feature_column.addWidget(self.scatter, 1)
        self.charts = QTabWidget()
        self.charts.addTab(self.curves, "IoU per timestep")
        self.charts.addTab(self.losses, "Best − last")
        self.charts.addTab(feature_page, "Feature vs IoU")
        column = QVBoxLayout(self)
        column.addLayout(buttons)
        column.addLayout(running)
        column.addWidget(self.summary_label)
        column.addLayout(filters)
        column.addWidget(self.charts, 1)
        column.addWidget(self.status_label)

    # --- running --------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        options = getattr(self.window, "options", None)
        return getattr(options, "over_prompt_threshold", 0.05)

    def analyse_session(self) -> None:
        """Analyse the window's session on the images of its study."""
        if self.window is not None:
            self.start(partial(load_session, self.window.session, list(self.window.images), self.threshold),
                       f"Analysing {self.window.session.annotator}'s session…")

    def choose_results(self) -> None:
        results = QFileDialog.getExistingDirectory(self, "PointPrompt 'Prompting results' folder")
        if not results:
            return
        dataset = QFileDialog.getExistingDirectory(self, "'Image datasets' folder with the ground truth (Cancel: none)")
        self.open_results(Path(results), Path(dataset) if dataset else None)

    def open_results(self, results: Path, dataset: Path | None = None) -> None:
        """Analyse a results folder (ground truth from ``dataset``, or none)."""
        self.start(partial(load_results, Path(results), None if dataset is None else Path(dataset), self.threshold),
                   f"Analysing {results}…")

    def start(self, work, message: str) -> None:
        """Run ``work(progress, cancelled)`` on an AnalysisThread (one at a time)."""
        if self.job is not None:
            self.status_label.setText("An analysis is already running: wait for it, or cancel it.")
            return
        job = AnalysisThread(work)
        job.progressed.connect(self._progressed, QUEUED)
        job.succeeded.connect(self.show_data, QUEUED)
        job.failed.connect(lambda text: self._ended(f"<b>The analysis failed.</b> {text}"), QUEUED)
        job.cancelled.connect(self._ended, QUEUED)
        job.finished.connect(self._finished, QUEUED)
        self.job = job
        self.status_label.setText(message)
        self._set_running(True)
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText("Cancelling…")

    def shutdown(self) -> None:
        """Stop a running analysis quietly (the window is closing)."""
        if self.job is not None:
            self.job.blockSignals(True)
            self.job.cancel()
            self.job.wait()
            self.job = None

    def _set_running(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)
        self.session_button.setEnabled(not on and self.window is not None)
        self.open_button.setEnabled(not on)
        if on:
            self.progress.setRange(0, 0)  # busy until the first count

    def _progressed(self, stage: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %v/%m images")

    def _ended(self, message: str) -> None:
        self.status_label.setText(message)
        self.ended.emit(message)

    def _finished(self) -> None:
        if self.job is not None:
            self.job.wait()
            self.job.deleteLater()
            self.job = None
        self._set_running(False)

    # --- showing --------------------------------------------------------------------------
    def show_data(self, data: AnalysisData) -> None:
        """Show ``data`` with the filters reset to all."""
        self.data = data
        for box, which in ((self.category_box, "categories"), (self.annotator_box, "annotators")):
            box.blockSignals(True)
            box.clear()
            box.addItem(ALL, None)
            for name in data.names(which):
                box.addItem(name, name)
            box.blockSignals(False)
        skipped = len(data.skipped)
        note = "" if not skipped else f" {skipped} files or folders could not be used (hover for the first ones)."
        self.status_label.setText(f"Analysed {data.source}.{note}")
        self.status_label.setToolTip("\n".join(f"{s['source']}: {s['reason']} ({s['effect']})"
                                               for s in data.skipped[:20]))
        self.refresh()
        self.loaded.emit()

    def selection(self):
        """The round mask of the current category and annotator filters."""
        return self.data.select(self.category_box.currentData(), self.annotator_box.currentData())

    def refresh(self) -> None:
        if self.data is None:
            return
        mask = self.selection()
        self.summary_label.setText(self.data.summary_text(mask))
        self.curves.show_curves(self.data.curves(mask))
        values, rows = self.data.losses(mask)
        self.losses.show_losses(values, rows, self.data.threshold)
        self.show_feature()

    def show_feature(self) -> None:
        if self.data is None:
            return
        kind, name = self.feature_box.currentData().split(":", 1)
        self.scatter.show_points(name, self.data.feature_points(kind, name, self.selection()))

    def _hovered(self, chart, i: int) -> None:
        if self.data is not None and i >= 0:
            self.status_label.setText(self.data.describe(int(chart.pick_rows[i]), int(chart.pick_steps[i]))
                                      + " · click to open")

    def _clicked(self, chart, i: int) -> None:
        if self.data is not None:
            row = int(chart.pick_rows[i])
            self.status_label.setText(self.data.describe(row, int(chart.pick_steps[i])))
            self.image_clicked.emit(str(self.data.image_ids[row]))

    def open_image(self, image_id: str) -> bool:
        """Open ``image_id`` in the window if its study has it; say so either way."""
        images = getattr(self.window, "images", None) or []
        ids = [image.image_id for image in images]
        if image_id not in ids:
            if self.window is not None:
                self.status_label.setText(self.status_label.text() + f" · {image_id} is not in the open study")
            return False
        self.window.table.setCurrentCell(ids.index(image_id), 0)
        return True
