"""The main window: lays out the views and menus and wires them to the annotation controller.

It holds no state of its own beyond widgets: every number comes from the session (core) via
the controller, and every user action goes to the controller.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCursor, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.prompting.session import AnnotationSession
from core.prompting.study import StudyImage
from desktop.analysis_panel import AnalysisPanel
from desktop.annotation_controller import AnnotationController, ControllerOptions
from desktop.candidate_strip import CandidateStrip
from desktop.classifier_panel import ClassifierPanel
from desktop.file_menu import FileMenuActions
from desktop.image_canvas import ImageCanvas
from desktop.image_table import ImageTable
from desktop.inference_worker import start_worker, stop_worker
from desktop.iou_plot import IouPlot
from desktop.overlay_panel import OverlayPanel, add_map_actions
from desktop.replay_panel import ReplayPanel
from desktop.verdict_box import VerdictBox, ask_verdict

# A new point waits this long for its mask so that both appear in one frame (ImageCanvas.hold_paint);
# well under the ~100 ms a click's feedback may take and still feel immediate.
POINT_PAINT_HOLD_MS = 50
HINT = "Left click: inclusion · right click (or Shift+left): exclusion · click a point: remove · drag: move"
PROTOCOL_HINT = ("Left click: a point of the current kind (G inclusion / R exclusion) · right click: remove the nearest "
                 "point of that kind · drag: move")


class MainWindow(FileMenuActions, QMainWindow):
    """The annotation app. ``images``: the study; ``session``: where events go; ``output``: export root."""

    def __init__(self, images: list[StudyImage], session: AnnotationSession, checkpoint: Path | None = None,
                 variant: str | None = None, device: str = "auto", options: ControllerOptions | None = None,
                 output: Path | None = None) -> None:
        super().__init__()
        self.session = session
        self.output = output or session.folder.parent
        self.exporting = None  # the running desktop.export_thread.ExportThread, if any
        self._asking: set[str] = set()  # images whose ground-truth question is on screen
        self.checkpoint, self.variant, self.device = checkpoint, variant, device
        self.options = options or ControllerOptions()
        self.worker, self.thread = start_worker()
        self.canvas = ImageCanvas()
        self.candidates = CandidateStrip()
        self.verdict = VerdictBox()
        self.plot = IouPlot()
        self.hint = HINT if self.options.protocol is None else PROTOCOL_HINT
        self.score_label = QLabel(self.hint)
        self.score_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b00020; font-weight: bold")
        self.model_label = QLabel("Loading model…")
        self.model_label.setWordWrap(True)
        self.round_label = QLabel("")
        self.write_banner = QLabel("")
        self.write_banner.setWordWrap(True)
        self.write_banner.setStyleSheet("background: #b00020; color: white; padding: 4px")
        self.write_banner.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setFormat("embeddings %v/%m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.worker.cancel_prefetch)
        self.controller: AnnotationController | None = None
        self.table: ImageTable | None = None
        self.replay = ReplayPanel(self)
        self.replay.active_changed.connect(self._on_replay_active)
        o = self.options
        self.overlays = OverlayPanel(o.map_style, o.suggest_source, o.suggest_continuously)  # gradient maps
        self._left = QVBoxLayout()
        self._build_layout()
        self._build_menus()
        self.worker.prefetch_progress.connect(self._on_prefetch_progress)
        self.canvas.add_requested.connect(lambda x, y, label: self.controller.add_point(x, y, label))
        self.canvas.add_anticipated.connect(lambda x, y, label: self.controller.anticipate_add(x, y, label))
        self.canvas.anticipation_dropped.connect(lambda: self.controller.drop_anticipation())
        self.canvas.remove_requested.connect(lambda i: self.controller.remove_point(i))
        self.canvas.move_requested.connect(lambda i, x, y: self.controller.move_point(i, x, y))
        self.canvas.remove_nearest_requested.connect(
            lambda x, y: self.controller.remove_nearest(x, y, self.canvas.left_label))
        self.canvas.right_click_removes = self.options.protocol is not None
        self.verdict.answered.connect(lambda value: self.controller.judge_ground_truth(value))
        self.candidates.chosen.connect(lambda k: self.controller.choose(k))
        self._secondary = QTimer(self)  # thumbnails, plot, labels: repainted after the mask
        self._views_image: str | None = None  # the image the thumbnails and plot show
        self._secondary.setSingleShot(True)
        self._secondary.timeout.connect(self._update_secondary_views)
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._refresh_current_row)
        self._clock.start(1000)
        self._collector = QTimer(self)  # see _collect
        self._collector.timeout.connect(self._collect)
        self._collector.start(30_000)
        self.set_study(images)
        self._freeze_survivors()
        self.worker.load_model(checkpoint, variant, device)

    # --- layout --------------------------------------------------------------------------
    def _build_layout(self) -> None:
        left = QWidget()
        left.setLayout(self._left)
        self._left.addWidget(QLabel("Images"))
        self._left.addWidget(self.model_label)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        self._left.addLayout(bar)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 255)
        self.opacity.setValue(self.canvas.mask_alpha)
        self.opacity.setMaximumWidth(140)
        self.opacity.valueChanged.connect(lambda v: self.canvas.set_overlay_style(alpha=v))
        self.outline_box = QCheckBox("Outline")
        self.outline_box.setChecked(self.canvas.outline)
        self.outline_box.toggled.connect(lambda on: self.canvas.set_overlay_style(outline=on))
        fit_button = QPushButton("Fit")
        fit_button.clicked.connect(self.canvas.fit)
        round_button = QPushButton("New round")
        round_button.clicked.connect(lambda: self.controller.new_round())
        self.mode_label = QLabel("")
        tools = QHBoxLayout()
        for widget in (QLabel("Mask opacity"), self.opacity, self.outline_box, fit_button, round_button):
            tools.addWidget(widget)
        tools.addStretch(1)
        tools.addWidget(self.mode_label)
        centre = QWidget()
        stack = QVBoxLayout(centre)
        stack.addLayout(tools)
        stack.addWidget(self.write_banner)
        stack.addWidget(self.canvas, 1)
        stack.addWidget(self.score_label)

        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(QLabel("Candidates (click to choose)"))
        column.addWidget(self.candidates)
        column.addWidget(self.round_label)
        column.addWidget(self.verdict)
        column.addWidget(self.plot, 1)
        column.addWidget(self.warning_label)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.overlays, "Maps")
        self.tabs.addTab(self.replay, "Replay")
        self.tabs.setTabToolTip(0, "Gradient maps of SAM's mask: where it is unsure, and why")
        self.tabs.setTabToolTip(1, "Replay published PointPrompt results through this model")
        self.analysis = AnalysisPanel(self)  # clicking a plotted round opens its image
        self.tabs.addTab(self.analysis, "Analysis")
        self.classifier_panel = ClassifierPanel()  # its own model thread, started when first shown
        self.tabs.addTab(self.classifier_panel, "Classifier")
        column.addWidget(self.tabs, 2)
        splitter = QSplitter()
        for widget, stretch in ((left, 0), (centre, 1), (right, 0)):
            splitter.addWidget(widget)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        splitter.setSizes([360, 680, 360])
        self.setCentralWidget(splitter)
        self.resize(1400, 820)

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open image &folder…", self.choose_image_folder, "Ctrl+O")
        self._action(file_menu, "Open PointPrompt &dataset…", self.choose_dataset)
        self._action(file_menu, "Open SAM &checkpoint…", self.choose_checkpoint)
        devices = file_menu.addMenu("&Device")
        device_group = QActionGroup(self)
        for name in ("auto", "cpu", "cuda", "mps"):
            action = self._action(devices, name, lambda _=False, d=name: self.set_device(d), None, True)
            action.setChecked(name == self.device)
            device_group.addAction(action)
        self._action(file_menu, "&Annotator and output folder…", self.choose_annotator)
        file_menu.addSeparator()
        self._action(file_menu, "&Export PointPrompt results…", self.choose_export, "Ctrl+E")
        self.export_maps_action = self._action(file_menu, "Exports include gradient &maps", lambda _: None, None, True)
        self.export_maps_action.setChecked(True)  # beside the results: <annotator>_maps/, <annotator>_map_scalars.csv
        self._action(file_menu, "&Save session to…", self.choose_save_session)
        self._action(file_menu, "Open PointPrompt results for &replay…", self.replay.choose_root)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = None  # made per controller (its undo group)
        self._edit_menu = edit
        self._action(edit, "&Clear points", lambda: self.controller.clear_points(), "Space")
        self._action(edit, "New &round", lambda: self.controller.new_round(), "Ctrl+R")
        edit.addSeparator()
        self._action(edit, "Left click adds &inclusion (G)", lambda: self.set_left_label(1), "G")
        self._action(edit, "Left click adds e&xclusion (R)", lambda: self.set_left_label(0), "R")
        self._action(edit, "Add inclusion at the cursor", lambda: self._add_at_cursor(1), "I")
        self._action(edit, "Add exclusion at the cursor", lambda: self._add_at_cursor(0), "E")

        view = bar.addMenu("&View")
        self._action(view, "&Fit image", self.canvas.fit, "F")
        self._action(view, "Zoom &in", lambda: self.canvas.zoom(1.25), ["+", "="])
        self._action(view, "Zoom &out", lambda: self.canvas.zoom(0.8), "-")
        view.addSeparator()
        self.blind_action = self._action(view, "&Blind mode (hide ground-truth scores)", self.set_blind, None, True)
        self.blind_action.setChecked(self.options.blind)
        choice = view.addMenu("Default candidate")
        group = QActionGroup(self)
        for key, text in (("first", "First output (PointPrompt)"), ("best", "Highest predicted IoU")):
            action = self._action(choice, text, lambda _=False, k=key: setattr(self.options, "default_output", k),
                                  None, True)
            action.setChecked(self.options.default_output == key)
            group.addAction(action)
        add_map_actions(self, view)

        navigate = bar.addMenu("&Navigate")
        self._action(navigate, "&Next image", lambda: self.controller.step(1), ["N", "PgDown"])
        self._action(navigate, "&Previous image", lambda: self.controller.step(-1), ["P", "PgUp"])
        tools = bar.addMenu("&Tools")
        self._action(tools, "Compute &all embeddings", lambda: self.controller.prefetch_all())
        self.set_left_label(1)

    # --- study and controller ------------------------------------------------------------
    def set_study(self, images: list[StudyImage]) -> None:
        """Show a new list of images (same session, same model)."""
        if self.controller is not None:
            self.controller.session.close_image()
            self._detach(self.controller)
        self.images = images
        self.controller = AnnotationController(self.worker, images, self.session, self.options)
        if self.undo_action is not None:
            for action in (self.undo_action, self.redo_action):
                self._edit_menu.removeAction(action)
        self.undo_action = self.controller.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.controller.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        first = self._edit_menu.actions()[0] if self._edit_menu.actions() else None
        self._edit_menu.insertActions(first, [self.undo_action, self.redo_action])
        if self.table is not None:
            self._left.removeWidget(self.table)
            self.table.deleteLater()
        self.table = ImageTable([image.image_id for image in images])
        self._left.insertWidget(1, self.table, 1)
        self.table.currentCellChanged.connect(lambda row, *_: self.controller.open_index(row))
        c = self.controller
        c.view = self.canvas  # the worker draws new masks' overlays in the canvas's style
        c.image_opened.connect(self._on_image_opened)
        c.prompts_changed.connect(self._on_prompts_changed)
        c.result_changed.connect(self._on_result_changed)
        c.mask_ready.connect(self._paint_mask_now)
        c.verdict_wanted.connect(self._ask_verdict)
        c.row_changed.connect(self._refresh_row)
        c.message.connect(self._show_message)
        c.model_changed.connect(self._on_model_changed)
        self.overlays.attach(c, self.canvas)
        self.classifier_panel.attach(c, self.canvas)
        if self.worker.engine is not None and self.model_label.text().startswith("Model:"):
            c.model_description = self.model_label.text().removeprefix("Model: ")
        for row in range(len(images)):
            self._refresh_row(row)
        start = images.index(next((i for i in images if i.image_id == self.session.resumed_image), images[0])) \
            if images else -1
        if start >= 0:
            self.table.setCurrentCell(start, 0)
        self.setWindowTitle(f"PointPrompt Studio — {self.session.annotator} — {len(images)} images")

    def _detach(self, controller: AnnotationController) -> None:
        controller.detach()
        controller.deleteLater()
        QTimer.singleShot(0, gc.collect)  # dead Qt objects go on this thread, never on the worker's (see _collect)

    # --- repainting ----------------------------------------------------------------------
    def _on_image_opened(self) -> None:
        c = self.controller
        self.canvas.set_image(None if c.loaded is None else c.loaded.image)
        self.verdict.show_verdict(None if c.record is None else c.record.gt_suboptimal)
        self.verdict.setEnabled(c.current is not None)
        if self.table.currentRow() != c.index:
            self.table.setCurrentCell(c.index, 0)
        self._on_prompts_changed()
        if c.load_error:
            self.score_label.setText(f"<b>Cannot open this image.</b> {c.load_error}")
        if self.replay.root is not None:
            self.replay.load_current()

    def _ask_verdict(self, image_id: str) -> None:
        """Asked as the annotator leaves ``image_id`` (protocol mode): once the switch is done."""
        QTimer.singleShot(0, lambda: self._ask_verdict_now(image_id))

    def _ask_verdict_now(self, image_id: str) -> None:
        record = self.session.records.get(image_id)
        if image_id in self._asking or record is None or record.gt_suboptimal is not None:
            return
        self._asking.add(image_id)  # the dialog's event loop may bring another leave of it
        try:
            answer = ask_verdict(self, image_id)
        finally:
            self._asking.discard(image_id)
        if answer is not None and not self.session.closed:
            self.controller.judge_ground_truth(answer, image_id)
            if self.controller.current is not None and self.controller.current.image_id == image_id:
                self.verdict.show_verdict(answer)

    def _on_replay_active(self, active: bool) -> None:
        """A replay makes the canvas read-only and owns it; ending it repaints the session's view."""
        self.canvas.editable = not active
        if active:
            self.tabs.setCurrentWidget(self.replay)
        self.candidates.setEnabled(not active)
        self.verdict.setEnabled(not active and self.controller.current is not None)
        self.controller.set_read_only(active)
        if not active:
            self._on_prompts_changed()
            self._on_result_changed()

    def _on_prompts_changed(self) -> None:
        prompts = self.controller.prompts
        if self.controller.awaiting_answer:
            # point, mask and labels in one frame unless SAM is slow; meanwhile the UI thread
            # leaves the cores and the GIL to the decoder (relayouts cost ~1 ms)
            self.canvas.hold_paint(POINT_PAINT_HOLD_MS)
            self._secondary.start(POINT_PAINT_HOLD_MS)  # the answer restarts it at once
        self.canvas.set_points(prompts.coords, prompts.labels)
        if not self.controller.awaiting_answer:
            self._update_round_label()
            self._update_banner()

    def _update_round_label(self) -> None:
        prompts, record = self.controller.prompts, self.controller.record
        if record is not None:
            self.round_label.setText(f"Round {record.round + 1} · {len(prompts)} points · "
                                     f"{len(record.timesteps)} timesteps")

    def _paint_mask_now(self, mask, overlay) -> None:
        """A fresh answer: paint its mask (and the overlay the worker drew, if any) at once,
        before the session records it."""
        if not self.replay.active:
            self.canvas.set_mask(mask, overlay)
            self.canvas.paint_now()

    def _on_result_changed(self) -> None:
        """Show the mask and its scores now; the slower views follow on the next event-loop turn."""
        if self.replay.active:
            return
        c = self.controller
        shown = c.shown
        mask = None if shown is None else c.shown_masks[shown.chosen]
        painted = self.canvas.mask
        if not (mask is painted or (mask is not None and painted is not None and np.array_equal(mask, painted))):
            self.canvas.set_mask(mask)  # not the mask painted ahead of the scores (that one would be painted twice)
        self._update_scores()
        self._secondary.start(0)

    def _update_secondary_views(self) -> None:
        if self.replay.active:
            return
        c = self.controller
        image_id = None if c.current is None else c.current.image_id
        if c.awaiting_answer and self._views_image == image_id:
            # the hold deadline of a slow decode (vit_b): only the point count is new. Thumbnails
            # and plot wait for the answer; redrawing them now (pyqtgraph paints in Python) took
            # the GIL from the decoder in mid-decode: vit_b's click-to-mask was 15 ms longer.
            self._update_round_label()
            self._update_banner()
            return
        self._views_image = image_id
        shown, masks = c.shown, c.shown_masks
        blind = self.options.blind
        captions, tips = [], []
        if shown is not None:
            for k, predicted in enumerate(shown.predicted_ious):
                score = "" if blind or shown.ious[k] is None else f"IoU {shown.ious[k]:.2f}\n"
                captions.append(f"#{k + 1} {score}SAM {predicted:.2f}")
                tips.append(f"Candidate {k + 1}: SAM predicted IoU {predicted:.3f}"
                            + ("" if blind or shown.ious[k] is None else f", IoU {shown.ious[k]:.3f}"))
        self.candidates.show_candidates(None if c.loaded is None else c.loaded.image, masks, captions, tips,
                                        None if shown is None else shown.chosen)
        self._update_plot()
        self._update_round_label()
        self._update_banner()

    def _update_banner(self) -> None:
        error = self.session.write_error
        self.write_banner.setVisible(bool(error))
        self.write_banner.setText(error or "")

    def _update_scores(self) -> None:
        self._update_banner()
        c, shown = self.controller, self.controller.shown
        if c.load_error:
            return
        if shown is None:
            self.score_label.setText(self.hint if not c.prompts else "Waiting for SAM…")
            return
        parts = []
        if shown.iou is not None and not self.options.blind:
            parts.append(f"IoU {shown.iou:.3f}   Dice {shown.dice:.3f}")
        parts.append(f"SAM predicted IoU {shown.predicted_iou:.3f}")
        parts.append(f"candidate #{shown.chosen + 1}, {len(shown.prompts)} points, "
                     f"decode {1000 * shown.latency_s:.0f} ms, timestep {c.shown_timestep}")
        self.score_label.setText("   ".join(parts))

    def _update_plot(self) -> None:
        c = self.controller
        steps = c.record.timesteps if c.record is not None else []
        rounds = [t.round for t in steps]
        status = c.over_prompting()
        if self.options.blind:
            self.plot.show_timesteps([t.predicted_iou for t in steps], rounds, None,
                                     "SAM predicted IoU per timestep (blind mode)")
            self.warning_label.setText("")
            return
        self.plot.show_timesteps([t.iou for t in steps], rounds, status.best_index, "IoU per timestep (★ best of round)")
        self.warning_label.setText(
            f"Over-prompting: IoU {status.current_iou:.3f} is {status.gap:.3f} below this round's best "
            f"({status.best_iou:.3f} at timestep {status.best_index}). Undo (Ctrl+Z) or remove points."
            if status.warn else "")

    def _refresh_row(self, row: int) -> None:
        if self.table is None or not 0 <= row < len(self.images):
            return
        image_id = self.images[row].image_id
        c = self.controller
        record = self.session.records.get(image_id)
        embedding = "broken" if image_id in c.broken else ("ready" if image_id in c.embedded else "")
        best = None if record is None or self.options.blind else record.best_iou
        self.table.set_row(row, embedding, len(record.timesteps) if record else 0, best,
                           record.seconds_at(time.time()) if record else 0.0, c.broken.get(image_id, ""))

    def _refresh_current_row(self) -> None:
        if self.controller is not None and self.controller.index >= 0:
            self._refresh_row(self.controller.index)

    @staticmethod
    def _collect() -> None:
        """Run Python's cyclic garbage collector on the UI thread. Unreachable Qt objects in
        reference cycles (a replaced controller, a lambda holding a widget) would otherwise be
        destroyed by whichever thread triggers a collection, possibly the model thread, where
        destroying a QObject deadlocked PySide6 6.11 in our tests. Cheap because of
        :meth:`_freeze_survivors`."""
        gc.collect()

    @staticmethod
    def _freeze_survivors() -> None:
        """Collect once, then move every surviving object (torch, Qt, the model: ~4·10^5 objects)
        out of the collector's sight (``gc.freeze``): a full collection then takes milliseconds,
        not the 150–250 ms that stalled the window every 30 s. Reference counting still frees them."""
        gc.collect()
        gc.freeze()

    def _on_prefetch_progress(self, done: int, total: int) -> None:
        running = done < total
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)

    def _on_model_changed(self, description: str) -> None:
        self.model_label.setText(f"Model: {description}")
        self._freeze_survivors()  # the new model's objects join the frozen ones

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)
        if "Cannot load the model" in text:
            self.model_label.setText(f"<b>Cannot load the model.</b> {text.removeprefix('Cannot load the model. ')}")

    # --- user settings -------------------------------------------------------------------
    def set_left_label(self, label: int) -> None:
        self.canvas.left_label = label
        self.mode_label.setText("Left click adds: " + ("<b style='color:#1a9a2a'>inclusion</b>" if label == 1
                                                       else "<b style='color:#c0201a'>exclusion</b>"))

    def set_blind(self, on: bool) -> None:
        self.options.blind = bool(on)
        self._on_result_changed()
        for row in range(len(self.images)):
            self._refresh_row(row)

    def _add_at_cursor(self, label: int) -> None:
        point = self.canvas.image_point(self.canvas.viewport().mapFromGlobal(QCursor.pos()))
        if point is not None:
            self.controller.add_point(point[0], point[1], label)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.analysis.shutdown()  # a running analysis stops quietly
        self.classifier_panel.shutdown()
        if self.exporting is not None:  # stop it before the session closes under it, silently
            self.exporting.blockSignals(True)
            self.exporting.cancel()
            self.exporting.wait()
        try:
            if self.controller is not None:
                self.session.close_image()
            self.session.close()
        finally:  # whatever the disk does, the model thread stops
            stop_worker(self.worker, self.thread)
        super().closeEvent(event)

