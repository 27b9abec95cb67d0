"""Drive the main window with simulated clicks, save a screenshot and quit (for docs and smoke tests).

Clicks follow core.prompting.click_simulation: the first at the target's most interior point,
each later one at the centre of the largest error of the mask on screen. They go through the
same controller calls as mouse clicks, so they are logged and recorded like a person's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from core.prompting.click_simulation import corrective_click, most_interior_point
from desktop.main_window import MainWindow


class ScriptedDemo(QObject):
    """Places ``clicks`` clicks, one per shown result, then saves ``path`` and quits."""

    def __init__(self, window: MainWindow, clicks: int, path: Path) -> None:
        super().__init__(window)
        self.window, self.clicks, self.path, self.done = window, clicks, path, 0
        window.worker.model_loaded.connect(self._start)
        window.controller.result_changed.connect(self._next)

    def _start(self, _description: str) -> None:
        QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        controller = self.window.controller
        if controller.shown is None and self.done > 0:
            return  # waiting for the answer to the last click
        truth = controller.truth
        if self.done >= self.clicks or truth is None:
            QTimer.singleShot(300, self._finish)
            return
        if self.done == 0:
            (x, y), label = most_interior_point(truth), 1
        else:
            found = corrective_click(controller.shown_masks[controller.shown.chosen], truth)
            if found is None:
                QTimer.singleShot(300, self._finish)
                return
            (x, y), label = found
        self.done += 1
        controller.add_point(x, y, label)

    def _finish(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(self.path))
        self.path = None
        self.window.close()
        QApplication.quit()


def run_scripted_demo(window: MainWindow, clicks: int, path: Path) -> ScriptedDemo:
    return ScriptedDemo(window, clicks, path)
