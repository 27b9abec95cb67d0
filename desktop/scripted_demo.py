"""Drive the main window with simulated clicks, save a screenshot and quit (for docs and smoke tests).

Clicks follow core.prompting.click_simulation: the first at the target's most interior point,
each later one at the centre of the largest error of the mask on screen.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from core.prompting.click_simulation import corrective_click, most_interior_point
from desktop.inference_worker import DecodeResult
from desktop.main_window import SHOWN_OUTPUT, MainWindow


class ScriptedDemo(QObject):
    """Places ``clicks`` clicks, one per decoded answer, then saves ``path`` and quits."""

    def __init__(self, window: MainWindow, clicks: int, path: Path) -> None:
        super().__init__(window)
        self.window, self.clicks, self.path, self.done = window, clicks, path, 0
        # bound methods of this UI-thread object, so Qt queues the worker's signals to this thread
        window.worker.model_loaded.connect(self._start)
        window.worker.decoded.connect(self._next)

    def _start(self, _description: str) -> None:
        self._next(None)

    def _next(self, result: DecodeResult | None) -> None:
        window = self.window
        if result is not None and result.request.serial != window.latest_serial:
            return
        truth = window.current.truth if window.current is not None else None
        if self.done >= self.clicks or truth is None:
            QTimer.singleShot(200, self._finish)
            return
        if result is None:
            (x, y), label = most_interior_point(truth), 1
        else:
            found = corrective_click(result.decoded.masks[SHOWN_OUTPUT], truth)
            if found is None:
                QTimer.singleShot(200, self._finish)
                return
            (x, y), label = found
        self.done += 1
        window.add_point(x, y, label)

    def _finish(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(self.path))
        self.window.close()
        QApplication.quit()


def run_scripted_demo(window: MainWindow, clicks: int, path: Path) -> ScriptedDemo:
    return ScriptedDemo(window, clicks, path)
