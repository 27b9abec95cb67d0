"""The File menu's dialogs and actions, as a mixin of :class:`desktop.main_window.MainWindow`.

Opening studies, checkpoints, devices, annotator/output folders, exporting and saving the
session elsewhere. It uses the window's controller, session, worker and labels, and owns no
state of its own.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QProgressDialog

from core.io.event_log import EventLogError
from core.io.folder_lock import FolderLockedError
from core.prompting.session import AnnotationSession, session_folder
from core.prompting.study import StudyImageError, study_from_folder, study_from_image_datasets
from desktop.export_thread import ExportThread


class FileMenuActions:
    """Mixed into MainWindow; every method is a File-menu entry or what one calls."""

    def choose_image_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images")
        if not folder:
            return
        masks = QFileDialog.getExistingDirectory(self, "Folder of ground-truth masks (Cancel: none)")
        self._open_study(lambda: study_from_folder(folder, masks or None))

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "PointPrompt image dataset folder")
        if folder:
            self._open_study(lambda: study_from_image_datasets(folder))

    def _open_study(self, build) -> None:
        try:
            images = build()
        except StudyImageError as error:
            QMessageBox.warning(self, "Cannot open the study", str(error))
            return
        self.set_study(images)

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open SAM checkpoint", "", "SAM checkpoints (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.checkpoint, self.variant = Path(path), None
            self.model_label.setText(f"Loading {path}…")
            self.controller.load_model(self.checkpoint, None, self.device)

    def set_device(self, device: str) -> None:
        """Reload the current model on ``device`` (a failure keeps the model in use and says why)."""
        self.device = device
        self.model_label.setText(f"Loading the model on {device}…")
        self.controller.load_model(self.checkpoint, self.variant, device)

    def choose_annotator(self) -> None:
        name, ok = QInputDialog.getText(self, "Annotator", "Annotator id (PointPrompt folder name):",
                                        text=self.session.annotator)
        if not ok or not name.strip():
            return
        folder = QFileDialog.getExistingDirectory(self, "Output folder (session log and exports)", str(self.output))
        if folder:
            self.switch_session(name.strip(), Path(folder))

    def switch_session(self, annotator: str, output: Path) -> None:
        """Close this session and open (or resume) ``annotator``'s session in ``output``."""
        folder = session_folder(output, annotator)
        if self.exporting is not None:  # it reads this session's masks: they must stay its own until it ends
            self._show_message(f"An export of {self.session.annotator}'s session is running: wait for it to finish "
                               "(or cancel it) before switching to another annotator.")
            return
        if folder.resolve() == self.session.folder.resolve():
            self._show_message(f"{annotator}'s session in {output} is already open.")
            return
        try:
            session = AnnotationSession.open(folder, annotator, device=self.device,
                                             mode="free" if self.options.protocol is None else "pointprompt")
        except (OSError, EventLogError, FolderLockedError) as error:
            QMessageBox.warning(self, "Cannot open the session", str(error))
            return
        self.session.close_image()
        self.session.close()
        self.session, self.output = session, output
        self.set_study(self.images)

    def choose_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export PointPrompt results into", str(self.output / "export"))
        if folder:
            self.export_to(Path(folder))

    def export_to(self, folder: Path, maps: bool | None = None) -> None:
        """Export on a background thread; a progress dialog with Cancel shows if it takes a while.
        ``maps``: add the gradient maps beside the results (default: File → Exports include
        gradient maps)."""
        if self.exporting is not None:
            self._show_message("An export is already running.")
            return
        if maps is None:  # as the menu says, if the session has any (a plain study writes no empty maps folder)
            maps = self.export_maps_action.isChecked() and any(
                step.maps for record in list(self.session.records.values()) for step in list(record.timesteps))
        job = ExportThread(self.session, self.images, folder, self, maps=maps)
        dialog = QProgressDialog(f"Exporting to {folder}…", "Cancel", 0, 1, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoReset(False)
        dialog.canceled.connect(job.cancel)
        job.progressed.connect(lambda done, total: (dialog.setMaximum(total), dialog.setValue(done)),
                               Qt.ConnectionType.QueuedConnection)
        job.succeeded.connect(lambda summary: self._export_done(folder, summary), Qt.ConnectionType.QueuedConnection)
        job.failed.connect(lambda text: QMessageBox.warning(self, "Export failed", text), Qt.ConnectionType.QueuedConnection)
        job.cancelled.connect(self._show_message, Qt.ConnectionType.QueuedConnection)
        job.finished.connect(lambda: self._export_ended(dialog), Qt.ConnectionType.QueuedConnection)
        self.exporting = job
        job.start()

    def _export_done(self, folder: Path, summary) -> None:
        note = f" ({len(summary.skipped)} prompted images are not in this study and were left out)" \
            if summary.skipped else ""
        maps = f"; {summary.map_files} map PNGs in {summary.maps_folder.name}" if summary.maps_folder else ""
        self._show_message(f"Exported {summary.timesteps} timesteps to {folder}{note}; table: {summary.csv_path.name}"
                           f"{maps}")

    def _export_ended(self, dialog) -> None:
        dialog.reset()
        dialog.deleteLater()
        self.exporting.wait()
        self.exporting.deleteLater()
        self.exporting = None

    def choose_save_session(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the session (events and masks) into")
        if folder:
            try:
                self.session.save_to(Path(folder))
            except (OSError, ValueError, FolderLockedError) as error:
                QMessageBox.warning(self, "Cannot save", f"Cannot write to {folder}: {error}")
                return
            self._show_message(f"Session saved to {folder}; new events go there.")
