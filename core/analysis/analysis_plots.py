"""PNG plots of the prompting analysis, with matplotlib's object API (no pyplot, no Qt backend).

:class:`PlotData` gathers what the plots need from each :class:`~core.analysis.prompt_analysis.ImageAnalysis`
(small: an IoU sequence per round, one row of numbers per timestep). The figure functions
return ``matplotlib.figure.Figure`` objects (a panel may show them); :func:`save_png` renders
one with the Agg canvas and writes it atomically.

* ``iou_per_timestep.png``: IoU against the timestep of the round, a panel per category: a thin
  line per round (at most ``max_curves``, chosen with a fixed seed) and the mean over the rounds
  that reach each step;
* ``over_prompting_loss.png``: the distribution of best − last IoU per round: all rounds, and
  per category;
* ``prompt_features_vs_iou.png``: each prompt feature against the IoU of its timestep;
* ``data_features_vs_best_iou.png``: each data feature against the round's best IoU.

Scatter panels show Spearman's rank correlation ρ (ties get their average rank) and the number
of points with both values.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from core.analysis.data_features import DATA_FEATURES
from core.analysis.prompt_features import PROMPT_FEATURES
from core.io.atomic import atomic_write_bytes

MAX_PANELS = 16  # categories shown in the per-category figures (the published data has 16)
MAX_POINTS = 5000  # points per scatter panel (a fixed-seed sample beyond this)
PLOT_FILES = ("iou_per_timestep.png", "over_prompting_loss.png", "prompt_features_vs_iou.png",
              "data_features_vs_best_iou.png")
_LINE, _MEAN = "#9aa5b1", "#1f5fa8"
# boxplot's "orientation" arrived in matplotlib 3.10, when "vert" was deprecated
_HORIZONTAL = ({"orientation": "horizontal"} if tuple(int(p) for p in matplotlib.__version__.split(".")[:2]) >= (3, 10)
               else {"vert": False})


def _number(value) -> float:
    return float("nan") if value is None else float(value)


@dataclass
class PlotData:
    """curves: category → IoU per timestep of each round; losses: category → best − last per round;
    timestep_rows: (N, 1 + len(PROMPT_FEATURES)) IoU then features; round_rows: best IoU then DATA_FEATURES."""

    curves: dict[str, list[np.ndarray]] = field(default_factory=dict)
    losses: dict[str, list[float]] = field(default_factory=dict)
    timestep_rows: list[list[float]] = field(default_factory=list)
    round_rows: list[list[float]] = field(default_factory=list)

    def add(self, timesteps: list[dict], rounds: list[dict]) -> None:
        """Take one image's TIMESTEP_COLUMNS and ROUND_COLUMNS rows (core.analysis.prompt_analysis)."""
        for row in rounds:
            sequence = [_number(s["iou"]) for s in timesteps if s["round"] == row["round"]]
            self.curves.setdefault(row["category"], []).append(np.array(sequence, np.float32))
            if row["best_minus_last"] is not None:
                self.losses.setdefault(row["category"], []).append(float(row["best_minus_last"]))
            self.round_rows.append([_number(row["best_iou"])] + [_number(row.get(n)) for n in DATA_FEATURES])
        self.timestep_rows.extend([_number(s["iou"])] + [_number(s[n]) for n in PROMPT_FEATURES] for s in timesteps)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ of two (N,) arrays over the pairs where both are finite; NaN with fewer than
    3 pairs or when either is constant."""
    keep = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(keep) < 3:
        return float("nan")
    rx, ry = _ranks(x[keep]), _ranks(y[keep])
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, inverse = np.unique(values, return_inverse=True)
    return (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]


def _grid(count: int, columns: int, width: float, height: float) -> tuple[Figure, list]:
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_visible(False)
    return figure, axes[:count]


def iou_curves_figure(curves: dict[str, list[np.ndarray]], max_curves: int = 40, seed: int = 0) -> Figure:
    """IoU per timestep of the round, one panel per category (the first MAX_PANELS by name)."""
    names = sorted(curves)[:MAX_PANELS]
    figure, axes = _grid(max(1, len(names)), 4, 3.4 if len(names) > 1 else 5.0, 2.9)
    rng = np.random.default_rng(seed)
    for ax, name in zip(axes, names):
        rounds = curves[name]
        shown = rounds if len(rounds) <= max_curves else [rounds[i] for i in sorted(
            rng.choice(len(rounds), max_curves, replace=False))]
        for sequence in shown:
            ax.plot(np.arange(1, len(sequence) + 1), sequence, color=_LINE, linewidth=0.8, alpha=0.7)
        longest = max(len(s) for s in rounds)
        padded = np.full((len(rounds), longest), np.nan)
        for i, sequence in enumerate(rounds):
            padded[i, :len(sequence)] = sequence
        reached = np.isfinite(padded).sum(axis=0)
        mean = np.where(reached > 0, np.nansum(padded, axis=0) / np.maximum(reached, 1), np.nan)
        steps = np.arange(1, longest + 1)
        ax.plot(steps, mean, color=_MEAN, linewidth=2.2, marker="o", markersize=3.5)
        for step, count in zip(steps, reached):  # how many rounds each mean is over
            ax.text(step, 0.03, str(count), ha="center", va="bottom", fontsize=6, color="#555555")
        ax.set_title(f"{name} ({len(rounds)} rounds)", fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0.8, max(longest, 2) + 0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.set_xlabel("timestep of the round", fontsize=9)
        ax.set_ylabel("IoU", fontsize=9)
    if not names:
        axes[0].text(0.5, 0.5, "no rounds", ha="center", va="center", transform=axes[0].transAxes)
    figure.suptitle("IoU per timestep of the round\n"
                    "(thin: single rounds; bold: mean; numbers: rounds that reach the step)", fontsize=10)
    return figure


def loss_figure(losses: dict[str, list[float]], threshold: float) -> Figure:
    """The over-prompting loss (best − last IoU per round): histogram of all rounds, and per category."""
    names = sorted(losses)[:MAX_PANELS]
    figure = Figure(figsize=(10, 2.2 + 0.35 * max(3, len(names))), layout="constrained")
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    every = np.array([v for name in losses for v in losses[name]], np.float64)
    top = max(0.1, float(every.max()) if every.size else 0.1)
    left.hist(every, bins=np.linspace(0, top, 21), color=_MEAN, alpha=0.85)
    left.axvline(threshold, color="#c0392b", linestyle="--", linewidth=1.2, label=f"threshold {threshold:g}")
    over = np.count_nonzero(every > threshold)
    left.set_title(f"all rounds: {over} of {every.size} lose more than {threshold:g}", fontsize=10)
    left.set_xlabel("best − last IoU (loss from over-prompting)", fontsize=9)
    left.set_ylabel("rounds", fontsize=9)
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    if not every.size:
        left.set_ylim(0, 1)
        left.text(0.5, 0.5, "no rounds with a score", ha="center", va="center", transform=left.transAxes)
    if names:
        data = [np.asarray(losses[name]) for name in names]
        right.boxplot(data, widths=0.5, showfliers=False, **_HORIZONTAL)
        rng = np.random.default_rng(0)
        for row, values in enumerate(data, start=1):
            right.scatter(values, row + rng.uniform(-0.15, 0.15, len(values)), s=10, color=_MEAN, alpha=0.6, zorder=3)
        right.set_yticks(range(1, len(names) + 1), [f"{n} ({len(losses[n])})" for n in names], fontsize=8)
        right.invert_yaxis()  # the first category on top
    right.axvline(threshold, color="#c0392b", linestyle="--", linewidth=1.2)
    right.set_xlabel("best − last IoU", fontsize=9)
    right.set_title("per category (rounds)", fontsize=10)
    right.grid(alpha=0.3, axis="x")
    figure.suptitle("Loss from over-prompting", fontsize=11)
    return figure


def scatter_figure(values: np.ndarray, names: tuple[str, ...], target: np.ndarray, target_label: str,
                   title: str, seed: int = 0) -> Figure:
    """One scatter panel per column of ``values`` (N, len(names)) against ``target`` (N,)."""
    figure, axes = _grid(len(names), 4, 3.0, 2.6)
    values = np.asarray(values, np.float64).reshape(-1, len(names))
    target = np.asarray(target, np.float64).reshape(-1)
    sample = np.arange(len(target))
    if len(sample) > MAX_POINTS:
        sample = np.sort(np.random.default_rng(seed).choice(len(target), MAX_POINTS, replace=False))
    for k, (ax, name) in enumerate(zip(axes, names)):
        column = values[:, k]
        both = np.count_nonzero(np.isfinite(column) & np.isfinite(target))
        rho = spearman(column, target)
        dense = len(sample) > 500
        ax.scatter(column[sample], target[sample], s=8 if dense else 22, color=_MEAN, alpha=0.35 if dense else 0.75,
                   linewidths=0)
        shown = f"{rho:.2f}".replace("-0.00", "0.00") if np.isfinite(rho) else "–"
        ax.set_title(f"{name}\nρ = {shown}, n = {both}", fontsize=9)
        if both == 0:
            ax.text(0.5, 0.5, "no values\n(no ground truth?)", ha="center", va="center", fontsize=8, color="#777777",
                    transform=ax.transAxes)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(target_label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(alpha=0.3)
    figure.suptitle(title, fontsize=11)
    return figure


def figures(data: PlotData, threshold: float) -> dict[str, Figure]:
    """PLOT_FILES → their figures."""
    steps = np.array(data.timestep_rows, np.float64).reshape(-1, 1 + len(PROMPT_FEATURES))
    rounds = np.array(data.round_rows, np.float64).reshape(-1, 1 + len(DATA_FEATURES))
    return {
        "iou_per_timestep.png": iou_curves_figure(data.curves),
        "over_prompting_loss.png": loss_figure(data.losses, threshold),
        "prompt_features_vs_iou.png": scatter_figure(steps[:, 1:], PROMPT_FEATURES, steps[:, 0], "IoU",
                                                     "Prompt features against the IoU of their timestep"),
        "data_features_vs_best_iou.png": scatter_figure(rounds[:, 1:], DATA_FEATURES, rounds[:, 0], "best IoU",
                                                        "Data features against the best IoU of the round"),
    }


def save_png(figure: Figure, path: str | Path, dpi: int = 100, colours: int = 128) -> Path:
    """Render ``figure`` with the Agg canvas and write it to ``path`` as PNG, atomically, in a
    palette of ``colours`` colours (Pillow's median cut, no dithering: a third of the bytes of
    the RGBA image, the text and lines unchanged to the eye)."""
    canvas = FigureCanvasAgg(figure)
    figure.set_dpi(dpi)
    canvas.draw()
    rgb = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    palette = rgb.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", optimize=True)
    return atomic_write_bytes(path, buffer.getvalue())
