"""The Analysis panel's three pyqtgraph charts, each with hover and click on its data points.

* :class:`CurvesChart`: IoU per timestep of the round, a thin line per image × annotator × round
  (drawn as one polyline) and the bold mean;
* :class:`LossChart`: histogram of best − last IoU per round (the over-prompting loss), the
  threshold, and a rug of one dot per round below the bars;
* :class:`ScatterChart`: a prompt or data feature against IoU.

:class:`PickChart` finds the data point nearest the mouse (within ``PICK_PX`` screen pixels):
``hovered(i)`` (-1: none) as the mouse moves, ``clicked(i)`` on a left click, ``i`` indexing
``pick_rows`` (the round row of :class:`~desktop.analysis_data.AnalysisData`) and
``pick_steps`` (its timestep row, or -1).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

pg.setConfigOptions(antialias=True, background="w", foreground="k")  # as desktop.iou_plot
PICK_PX = 8
_LINE, _MEAN, _HIGHLIGHT, _THRESHOLD = (120, 132, 146, 170), (31, 95, 168), (230, 120, 20), (192, 57, 43)


class PickChart(pg.PlotWidget):
    """A plot whose points can be hovered and clicked; subclasses call :meth:`set_pickable`."""

    hovered = Signal(int)
    clicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("bottom", "left"):
            self.getAxis(axis).enableAutoSIPrefix(False)  # features and losses in their own units, no "(x0.001)"
        self.pick_x = self.pick_y = np.zeros(0)
        self.pick_rows = self.pick_steps = np.zeros(0, np.int64)
        self.highlight = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(*_HIGHLIGHT), pen=pg.mkPen("k"))
        self.highlight.setZValue(10)
        self.addItem(self.highlight)
        self._hovered = -1
        self.scene().sigMouseMoved.connect(self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_pickable(self, x, y, rows, steps=None) -> None:
        self.pick_x, self.pick_y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self.pick_rows = np.asarray(rows, np.int64)
        self.pick_steps = np.full(len(self.pick_rows), -1, np.int64) if steps is None else np.asarray(steps, np.int64)
        self.show_highlight(-1)

    def nearest(self, scene_pos) -> int:
        """The pickable point within PICK_PX pixels of ``scene_pos`` (nearest first), or -1."""
        box = self.plotItem.vb
        if not self.pick_x.size or not box.sceneBoundingRect().contains(scene_pos):
            return -1
        at = box.mapSceneToView(scene_pos)
        sx, sy = box.viewPixelSize()
        distance = ((self.pick_x - at.x()) / sx) ** 2 + ((self.pick_y - at.y()) / sy) ** 2
        i = int(np.argmin(distance))
        return i if distance[i] <= PICK_PX ** 2 else -1

    def widget_pos(self, i: int):
        """Where pickable point ``i`` is on the widget (for tests and scripted clicks)."""
        scene = self.plotItem.vb.mapViewToScene(QPointF(self.pick_x[i], self.pick_y[i]))
        return self.mapFromScene(scene)

    def show_highlight(self, i: int) -> None:
        self.highlight.setData([self.pick_x[i]] if i >= 0 else [], [self.pick_y[i]] if i >= 0 else [])

    def _moved(self, scene_pos) -> None:
        i = self.nearest(scene_pos)
        if i != self._hovered:
            self._hovered = i
            self.show_highlight(i)
            self.hovered.emit(i)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        i = self.nearest(event.scenePos())
        if i >= 0:
            self.show_highlight(i)
            self.clicked.emit(i)


class CurvesChart(PickChart):
    """Thin grey curves (one per drawn round), the bold mean, the hovered round in orange."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "timestep of the round")
        self.setLabel("left", "IoU")
        self.lines = self.plot([], [], pen=pg.mkPen(_LINE, width=1))
        self.round_line = self.plot([], [], pen=pg.mkPen(_HIGHLIGHT, width=2.5))
        self.mean = self.plot([], [], pen=pg.mkPen(_MEAN, width=3.5), symbol="o", symbolSize=6,
                              symbolBrush=_MEAN)
        self.curve_count = 0

    def show_curves(self, curves) -> None:
        """``curves``: a desktop.analysis_data.Curves."""
        self.lines.setData(curves.x, curves.y, connect=curves.connect if curves.x.size else "all")
        finite = np.isfinite(curves.mean_y)
        self.mean.setData(curves.mean_x[finite], curves.mean_y[finite])
        self.curve_count = len(set(curves.rows.tolist()))
        self.set_pickable(curves.x, curves.y, curves.rows)
        shown = "" if len(curves.drawn) == curves.total else f" ({len(curves.drawn)} drawn)"
        self.setTitle(f"IoU per timestep: {curves.total} rounds{shown}; bold: mean", size="9pt")
        self.setYRange(0, 1.02)
        self.setXRange(0.8, max(2, len(curves.mean_x)) + 0.2, padding=0)
        self.getAxis("bottom").setTickSpacing(max(1, (len(curves.mean_x) + 9) // 10), 1)

    def show_highlight(self, i: int) -> None:
        super().show_highlight(i)
        if i < 0:
            self.round_line.setData([], [])
            return
        same = self.pick_rows == self.pick_rows[i]
        self.round_line.setData(self.pick_x[same], self.pick_y[same])


class LossChart(PickChart):
    """Histogram of best − last IoU (21 bins from 0, as analysis_plots), a rug dot per round."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "best − last IoU (loss from over-prompting)")
        self.setLabel("left", "rounds")
        self.bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=pg.mkBrush(*_MEAN, 200), pen=pg.mkPen("w"))
        self.addItem(self.bars)
        self.rug = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(*_MEAN, 160), pen=None)
        self.addItem(self.rug)
        self.threshold = pg.InfiniteLine(angle=90, pen=pg.mkPen(_THRESHOLD, width=1.5, style=Qt.PenStyle.DashLine))
        self.addItem(self.threshold)
        self.counts = np.zeros(0, np.int64)
        self.edges = np.zeros(0)

    def show_losses(self, values: np.ndarray, rows: np.ndarray, threshold: float) -> None:
        top = max(0.1, float(values.max()) if values.size else 0.1)
        self.edges = np.linspace(0, top, 21)
        self.counts, _ = np.histogram(values, self.edges)
        self.bars.setOpts(x0=self.edges[:-1], x1=self.edges[1:], height=self.counts)
        height = max(1, int(self.counts.max()) if self.counts.size else 1)
        jitter = np.random.default_rng(0).uniform(0.04, 0.14, len(values)) * height
        self.rug.setData(values, -jitter)
        self.set_pickable(values, -jitter, rows)
        self.threshold.setValue(threshold)
        over = int(np.count_nonzero(values > threshold))
        self.setTitle(f"best − last IoU: {over} of {values.size} rounds lose more than {threshold:g} "
                      "(dots: one per round)", size="9pt")
        self.setXRange(-0.01, top * 1.02, padding=0)
        self.setYRange(-0.16 * height, height * 1.08, padding=0)


class ScatterChart(PickChart):
    """One feature against IoU; the title gives Spearman's ρ and the number of points."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(*_MEAN, 150), pen=None)
        self.addItem(self.points)

    def show_points(self, name: str, points) -> None:
        """``points``: a desktop.analysis_data.FeaturePoints."""
        self.points.setData(points.x, points.y)
        self.set_pickable(points.x, points.y, points.rows, points.steps)
        self.setLabel("bottom", name)
        self.setLabel("left", points.y_label)
        rho = f"{points.rho:.2f}".replace("-0.00", "0.00") if np.isfinite(points.rho) else "–"
        sampled = "" if len(points.x) == points.both else f", {len(points.x)} drawn"
        empty = "" if points.both else " (no values: no ground truth?)"
        self.setTitle(f"{name} vs {points.y_label}: ρ = {rho}, n = {points.both}{sampled}{empty}", size="9pt")
        self.setYRange(-0.02, 1.02)
        self.enableAutoRange(axis="x")
