"""Export a session on a thread of its own, with progress and Cancel (File → Export).

Writing a large session's masks and arrays takes seconds; the UI thread keeps painting and the
annotator may keep working (core.prompting.export fixes the timesteps to write when it starts).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from core.prompting.export import ExportCancelled, export_session
from core.prompting.session import AnnotationSession, MissingMaskError
from core.prompting.study import StudyImage


class ExportThread(QThread):
    """Runs ``export_session``; exactly one of ``succeeded`` / ``cancelled`` / ``failed`` is
    emitted at the end."""

    progressed = Signal(int, int)  # images done, images in all
    succeeded = Signal(object)  # core.prompting.export.ExportSummary
    cancelled = Signal(str)  # what was left behind
    failed = Signal(str)  # a message naming the folder and what to do

    def __init__(self, session: AnnotationSession, images: list[StudyImage], root: Path, parent=None,
                 maps: bool = False) -> None:
        super().__init__(parent)
        self.session, self.images, self.root, self.maps = session, images, root, maps
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            summary = export_session(self.session, self.images, self.root, progress=self.progressed.emit,
                                     cancelled=self._cancel.is_set, **({"maps": True} if self.maps else {}))
        except ExportCancelled as error:
            self.cancelled.emit(str(error))
        except MissingMaskError as error:
            self.failed.emit(str(error))
        except OSError as error:
            self.failed.emit(f"Cannot write to {self.root}: {error}. The session is unchanged; choose another folder.")
        except Exception as error:  # noqa: BLE001 (a bug must still end the dialog with a message)
            self.failed.emit(f"The export to {self.root} stopped: {type(error).__name__}: {error}. The session "
                             "is unchanged; please report this.")
        else:
            self.succeeded.emit(summary)
