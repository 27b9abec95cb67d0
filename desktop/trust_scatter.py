"""A pyqtgraph scatter of one trust score against MSP (softmax confidence) over an evaluated dataset.

One point per row of desktop.evaluation_csv.EvaluationPoints: x = MSP, y = the chosen score,
clean images coloured by whether the classifier was right (green) or wrong (red), OOD images
grey. Clicking a point emits its image path (as the CSV has it) and rings the point. Scores
spanning many decades (GradTrust) read better on a log axis: :func:`wants_log` says when.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from core.gradients.trust_scores import SCORES
from desktop.evaluation_csv import CORRECT, INCORRECT, OOD, EvaluationPoints

pg.setConfigOptions(antialias=True, background="w", foreground="k")

# drawn in this order (the rarer, more telling points on top): kind, legend name, RGBA brush
LAYERS = ((OOD, "OOD", (140, 140, 140, 150)), (CORRECT, "correct", (30, 160, 60, 170)),
          (INCORRECT, "incorrect", (210, 40, 30, 200)))


def axis_label(score: str) -> str:
    """A score's label with its orientation, e.g. "Entropy (higher = less sure)"."""
    info = SCORES.get(score)
    if info is None:
        return score
    return f"{info.label} (higher = {'trust' if info.higher_is_trust else 'less sure'})"


def wants_log(values: np.ndarray, decades: float = 3.0) -> bool:
    """True when the finite values are all positive and span more than ``decades`` powers of ten."""
    finite = values[np.isfinite(values)]
    return bool(len(finite) > 1 and (finite > 0).all() and finite.max() > 10 ** decades * finite.min())


class TrustScatter(pg.PlotWidget):
    """Call :meth:`show_points`; ``image_clicked`` carries a clicked point's path."""

    image_clicked = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(200)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "MSP (softmax confidence)")
        self.addLegend(offset=(10, 10), brush=(255, 255, 255, 190))  # named items join it as they are added
        self.layers: dict[int, pg.ScatterPlotItem] = {}
        for kind, name, colour in LAYERS:
            item = pg.ScatterPlotItem(size=7, pen=None, brush=pg.mkBrush(*colour), name=name)
            item.sigClicked.connect(self._clicked)
            self.addItem(item)
            self.layers[kind] = item
        self.ring = pg.ScatterPlotItem(size=15, pen=pg.mkPen("k", width=2), brush=None)
        self.addItem(self.ring)
        self.points: EvaluationPoints | None = None

    def show_points(self, points: EvaluationPoints | None, score: str, log: bool = False) -> str:
        """Plot ``score`` (its log10 with ``log``: values ≤ 0 left out) against MSP for ``points``
        (None: clear); returns a caption with the counts."""
        self.points = points
        self.ring.setData([], [])
        if points is None or score not in points.scores or "msp" not in points.scores:
            for item in self.layers.values():
                item.setData([], [])
            return ""
        x, y = points.scores["msp"], points.scores[score]
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(y > 0, np.log10(y), np.nan)
        finite = np.isfinite(x) & np.isfinite(y)
        counts = []
        for kind, name, _ in LAYERS:
            rows = np.flatnonzero(finite & (points.kinds == kind))
            self.layers[kind].setData(x[rows], y[rows], data=[points.paths[i] for i in rows])
            counts.append(f"{len(rows)} {name}")
        self.setLabel("left", ("log10 " if log else "") + axis_label(score))
        self.autoRange()
        caption = ", ".join(counts)
        if (~finite).any():
            caption += f"; {int((~finite).sum())} without a {'positive ' if log else ''}{score} or MSP value"
        if points.skipped:
            caption += f"; {points.skipped} corrupted-set rows not plotted"
        return caption

    def _clicked(self, item, spots, _event=None) -> None:
        if len(spots) == 0:
            return
        spot = spots[0]
        self.ring.setData([spot.pos().x()], [spot.pos().y()])
        self.image_clicked.emit(str(spot.data()))
