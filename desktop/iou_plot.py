"""IoU per timestep of the current image (pyqtgraph), the round's best marked, rounds separated.

In blind mode the annotator must not see ground-truth scores, so the plot shows SAM's own
predicted IoU instead and says so in its title.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

pg.setConfigOptions(antialias=True, background="w", foreground="k")


class IouPlot(pg.PlotWidget):
    """Call :meth:`show_timesteps` after every change."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.setLabel("bottom", "timestep")
        self.setYRange(0, 1.02)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.curve = self.plot([], [], pen=pg.mkPen((30, 110, 220), width=2), symbol="o", symbolSize=6,
                               symbolBrush=(30, 110, 220))
        self.replay_curve = self.plot([], [], pen=pg.mkPen((230, 120, 20), width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                      symbol="t", symbolSize=7, symbolBrush=(230, 120, 20))
        self.best = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush(250, 200, 0), pen=pg.mkPen("k"))
        self.addItem(self.best)
        self._round_lines: list = []
        self.values = np.zeros(0)

    def show_timesteps(self, values: list[float | None], rounds: list[int], best_index: int | None,
                       title: str) -> None:
        """values: one score per timestep (None: unscored); rounds: round of each; best marked with a star."""
        self.values = np.array([np.nan if v is None else v for v in values], dtype=float)
        x = np.arange(len(values))
        finite = np.isfinite(self.values)
        if finite.any():
            self.curve.setData(x, self.values, connect="finite")
        else:  # nothing scored (no ground truth): an empty plot, not a line of NaNs
            self.curve.setData([], [])
        self.best.setData([best_index] if best_index is not None else [],
                          [self.values[best_index]] if best_index is not None else [])
        for line in self._round_lines:
            self.removeItem(line)
        self._round_lines = []
        for t in range(1, len(rounds)):
            if rounds[t] != rounds[t - 1]:
                line = pg.InfiniteLine(pos=t - 0.5, angle=90, pen=pg.mkPen((120, 120, 120), style=pg.QtCore.Qt.PenStyle.DashLine))
                self.addItem(line)
                self._round_lines.append(line)
        self.setTitle(title, size="9pt")
        self.setXRange(-0.5, max(4, len(values)) - 0.5, padding=0.02)
        self.getAxis("bottom").setTickSpacing(max(1, (len(values) + 9) // 10), 1)  # whole timesteps only

    def show_replay(self, values: list[float] | None) -> None:
        """A second series (re-run of a replayed sequence through the loaded model), or None to hide."""
        if values is None:
            self.replay_curve.setData([], [])
        else:
            self.replay_curve.setData(np.arange(len(values)), np.asarray(values, dtype=float))
