"""Drive the main window with simulated clicks, save a screenshot and quit (for docs and smoke tests).

Clicks follow core.prompting.click_simulation: the first at the target's most interior point,
each later one at the centre of the largest error of the mask on screen. They go through the
same controller calls as mouse clicks, so they are logged and recorded like a person's.
With ``wait_for_maps`` the screenshot waits for the last timestep's gradient maps (and their
overlay); with ``suggest`` it then asks for a suggested next click (S) and waits for it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from core.prompting.click_simulation import corrective_click, most_interior_point
from desktop.main_window import MainWindow


class ScriptedDemo(QObject):
    """Places ``clicks`` clicks, one per shown result, then saves ``path`` and quits."""

    def __init__(self, window: MainWindow, clicks: int, path: Path, wait_for_maps: bool = False,
                 suggest: bool = False) -> None:
        super().__init__(window)
        self.window, self.clicks, self.path, self.done = window, clicks, path, 0
        self.wait_for_maps, self.suggest, self._asked, self._finishing = wait_for_maps, suggest, False, False
        self._started = False
        window.worker.model_loaded.connect(self._start)
        window.controller.result_changed.connect(self._next)
        window.controller.maps.changed.connect(self._maps_changed)
        if window.worker.engine is not None:  # it loaded before this demo was built: its signal is gone
            self._start("")

    def _start(self, _description: str) -> None:
        """Begin once, whether from ``model_loaded`` or from finding the model already loaded."""
        if not self._started:
            self._started = True
            QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        controller = self.window.controller
        if controller.shown is None and self.done > 0:
            return  # waiting for the answer to the last click
        truth = controller.truth
        if self.done >= self.clicks or truth is None:
            self._end()
            return
        if self.done == 0:
            (x, y), label = most_interior_point(truth), 1
        else:
            found = corrective_click(controller.shown_masks[controller.shown.chosen], truth)
            if found is None:
                self._end()
                return
            (x, y), label = found
        self.done += 1
        controller.add_point(x, y, label)

    def _end(self) -> None:
        if not (self.wait_for_maps and self.window.options.maps and self.window.controller.shown is not None):
            self._finish_soon()
        else:
            self._maps_changed()

    def _maps_changed(self) -> None:
        """Once the clicks are done: finish when the maps (and the suggestion, if asked) are shown."""
        controller = self.window.controller
        clicks_done = self.done >= self.clicks or controller.truth is None
        maps = controller.maps
        if not self.wait_for_maps or not clicks_done or controller.awaiting_answer or maps.key is None \
                or maps.key != maps.current_key() or maps.scalars is None or maps.computing:
            return
        if maps.overlay is None and maps.style.name in maps.available:
            return  # its overlay is being drawn
        if self.suggest and not self._asked:
            self._asked = True
            maps.suggest()
            return
        if self.suggest and maps.visible_suggestion is None and maps._suggested_from is None:
            return  # the suggestion is being computed
        self._finish_soon()

    def _finish_soon(self) -> None:
        if not self._finishing:
            self._finishing = True
            QTimer.singleShot(300, self._finish)

    def _finish(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(self.path))
        self.path = None
        self.window.close()
        QApplication.quit()


def run_scripted_demo(window: MainWindow, clicks: int, path: Path, wait_for_maps: bool = False,
                      suggest: bool = False) -> ScriptedDemo:
    return ScriptedDemo(window, clicks, path, wait_for_maps, suggest)
