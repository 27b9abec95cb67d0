"""The tables behind the Analysis panel (no Qt): a prompting analysis's rounds and timesteps, columnar.

:class:`TableBuilder` takes the :class:`~core.analysis.prompt_analysis.ImageAnalysis` items of a
``ResultsWalk`` (the rows ``pointprompt analyze`` writes to images.csv and timesteps.csv) and
keeps only what the panel plots, as float arrays (None → NaN): per round (image × annotator ×
round) the IoU summary and the data features, per timestep the IoU and the prompt features.
:class:`AnalysisData` answers the panel's questions for a filter (a boolean mask over the
rounds): the IoU curves, the over-prompting losses, a feature against IoU, the summary line.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from core.analysis.data_features import DATA_FEATURES
from core.analysis.prompt_features import PROMPT_FEATURES

ROUND_NUMBERS = ("image_index", "round", "timesteps", "first_iou", "best_iou", "last_iou", "best_minus_last",
                 "over_prompted", *DATA_FEATURES)
STEP_NUMBERS = ("timestep", "step_in_round", "iou", *PROMPT_FEATURES)
FEATURES = (*(("prompt", name) for name in PROMPT_FEATURES), *(("data", name) for name in DATA_FEATURES))
MAX_CURVES = 2000  # curves drawn (a fixed-seed sample beyond this); the mean is over all rounds
MAX_POINTS = 5000  # scatter points drawn, as core.analysis.analysis_plots


def _number(value) -> float:
    return float("nan") if value is None else float(value)


class TableBuilder:
    """Collects ImageAnalysis items; :meth:`finish` returns the :class:`AnalysisData`."""

    def __init__(self) -> None:
        self.categories: list[str] = []
        self.annotators: list[str] = []
        self.image_ids: list[str] = []
        self.rounds = {name: array("d") for name in ROUND_NUMBERS}
        self.steps = {name: array("d") for name in STEP_NUMBERS}
        self.step_round = array("q")

    def add(self, analysis, image_id: str) -> None:
        """One image × annotator (``analysis``: an ImageAnalysis) whose image the study calls ``image_id``."""
        row_of = {}
        for row in analysis.rounds:
            row_of[row["round"]] = len(self.categories)
            self.categories.append(analysis.category)
            self.annotators.append(analysis.annotator)
            self.image_ids.append(image_id)
            for name in ROUND_NUMBERS:
                self.rounds[name].append(_number(row.get(name)))
        for step in analysis.timesteps:
            self.step_round.append(row_of[step["round"]])
            for name in STEP_NUMBERS:
                self.steps[name].append(_number(step.get(name)))

    def finish(self, source: str, threshold: float, skipped: list[dict] | None = None) -> AnalysisData:
        steps = {name: np.frombuffer(values, np.float64).copy() for name, values in self.steps.items()}
        step_round = np.frombuffer(self.step_round, np.int64).copy()
        order = np.lexsort((steps["step_in_round"], step_round))  # each round's timesteps together, in order
        return AnalysisData(source, threshold, np.array(self.categories, object), np.array(self.annotators, object),
                            np.array(self.image_ids, object),
                            {name: np.frombuffer(v, np.float64).copy() for name, v in self.rounds.items()},
                            {name: values[order] for name, values in steps.items()}, step_round[order],
                            list(skipped or []))


@dataclass
class Curves:
    """IoU per timestep of the drawn rounds as one polyline: x (timestep of the round, from 1),
    y, the round row of each vertex and ``connect`` (vertex i joins i + 1); ``drawn``: those round
    rows; ``mean_x/mean_y/reached``: the mean over all filtered rounds reaching each step."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    connect: np.ndarray
    drawn: np.ndarray
    total: int
    mean_x: np.ndarray
    mean_y: np.ndarray
    reached: np.ndarray


@dataclass
class FeaturePoints:
    """A feature (x) against IoU (y): one point per timestep (prompt features, the timestep's
    IoU) or per round (data features, the round's best IoU); ``rows``: the round row of each,
    ``steps``: the timestep row (-1 for rounds); ``total``/``both``: points before sampling / finite."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    steps: np.ndarray
    y_label: str
    total: int
    both: int
    rho: float


@dataclass
class AnalysisData:
    """Round arrays (one element per image × annotator × round) and timestep arrays (sorted by
    round row, then step); ``skipped``: core's SKIPPED_COLUMNS rows; ``source``: what was analysed."""

    source: str
    threshold: float
    categories: np.ndarray
    annotators: np.ndarray
    image_ids: np.ndarray
    rounds: dict[str, np.ndarray]
    steps: dict[str, np.ndarray]
    step_round: np.ndarray
    skipped: list[dict] = field(default_factory=list)

    @property
    def n_rounds(self) -> int:
        return len(self.categories)

    def names(self, which: str) -> list[str]:
        """The sorted distinct ``categories`` or ``annotators``."""
        return sorted(set(getattr(self, which).tolist()))

    def select(self, category: str | None = None, annotator: str | None = None) -> np.ndarray:
        """A mask over the rounds: only ``category`` / ``annotator`` (None: all)."""
        mask = np.ones(self.n_rounds, bool)
        if category is not None:
            mask &= self.categories == category
        if annotator is not None:
            mask &= self.annotators == annotator
        return mask

    def curves(self, mask: np.ndarray, limit: int = MAX_CURVES, seed: int = 0) -> Curves:
        rows = np.flatnonzero(mask)
        drawn = rows if len(rows) <= limit else np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))
        chosen = mask[self.step_round]
        step, iou = self.steps["step_in_round"][chosen].astype(np.int64), self.steps["iou"][chosen]
        finite = np.isfinite(iou)
        longest = int(step.max()) + 1 if step.size else 0
        reached = np.bincount(step[finite], minlength=longest)
        total = np.bincount(step[finite], iou[finite], minlength=longest)
        mean = np.where(reached > 0, total / np.maximum(reached, 1), np.nan)
        keep = np.isin(self.step_round, drawn)
        x, y, r = self.steps["step_in_round"][keep] + 1, self.steps["iou"][keep], self.step_round[keep]
        finite = np.isfinite(y)
        connect = np.zeros(len(y), bool)
        connect[:-1] = (r[1:] == r[:-1]) & finite[1:] & finite[:-1]
        return Curves(x[finite], y[finite], r[finite], connect[finite], drawn, len(rows),
                      np.arange(1, longest + 1, dtype=np.float64), mean, reached)

    def losses(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """best − last IoU of the filtered rounds that have one, and their round rows."""
        values = self.rounds["best_minus_last"]
        rows = np.flatnonzero(mask & np.isfinite(values))
        return values[rows], rows

    def feature_points(self, kind: str, name: str, mask: np.ndarray, limit: int = MAX_POINTS,
                       seed: int = 0) -> FeaturePoints:
        """``kind`` "prompt" (``name`` in PROMPT_FEATURES) or "data" (in DATA_FEATURES)."""
        from core.analysis.analysis_plots import spearman  # matplotlib: loaded by the analysis thread already

        if kind == "prompt":
            steps = np.flatnonzero(mask[self.step_round])
            x, y, rows, label = self.steps[name][steps], self.steps["iou"][steps], self.step_round[steps], "IoU"
        else:
            rows = np.flatnonzero(mask)
            x, y, steps, label = self.rounds[name][rows], self.rounds["best_iou"][rows], np.full(len(rows), -1), \
                "best IoU of the round"
        both = np.isfinite(x) & np.isfinite(y)
        rho = spearman(x, y)
        keep = np.flatnonzero(both)
        if len(keep) > limit:
            keep = np.sort(np.random.default_rng(seed).choice(keep, limit, replace=False))
        return FeaturePoints(x[keep], y[keep], rows[keep], steps[keep], label, len(x), int(both.sum()), rho)

    def summary(self, mask: np.ndarray) -> dict:
        """images (distinct category × index), rounds, mean first/best/last IoU (None: no value),
        rounds with a loss, those ending below their best, those over the threshold."""
        rows = np.flatnonzero(mask)

        def mean(name: str) -> float | None:
            values = self.rounds[name][rows]
            values = values[np.isfinite(values)]
            return float(values.mean()) if values.size else None

        losses = self.rounds["best_minus_last"][rows]
        losses = losses[np.isfinite(losses)]
        images = {(c, i) for c, i in zip(self.categories[rows], self.rounds["image_index"][rows])}
        return {"images": len(images), "rounds": len(rows), "mean_first_iou": mean("first_iou"),
                "mean_best_iou": mean("best_iou"), "mean_last_iou": mean("last_iou"), "scored": int(losses.size),
                "below_best": int(np.count_nonzero(losses > 0)),
                "over_threshold": int(np.count_nonzero(losses > self.threshold))}

    def summary_text(self, mask: np.ndarray) -> str:
        s = self.summary(mask)

        def iou(value: float | None) -> str:
            return "–" if value is None else f"{value:.3f}"

        share = f" ({s['below_best'] / s['scored']:.0%})" if s["scored"] else ""
        return (f"{s['images']} images · {s['rounds']} rounds · mean IoU first {iou(s['mean_first_iou'])}, best "
                f"{iou(s['mean_best_iou'])}, last {iou(s['mean_last_iou'])} · {s['below_best']} of {s['scored']} "
                f"scored rounds{share} end below their best, {s['over_threshold']} by more than {self.threshold:g}")

    def describe(self, row: int, step: int = -1) -> str:
        """Which image, annotator and round a round row (and timestep row) is, with its IoUs."""
        r = {name: values[row] for name, values in self.rounds.items()}

        def iou(value: float) -> str:
            return f"{value:.3f}" if np.isfinite(value) else "–"

        text = (f"{self.image_ids[row]} · {self.annotators[row]} · round {int(r['round']) + 1} · IoU first "
                f"{iou(r['first_iou'])}, best {iou(r['best_iou'])}, last {iou(r['last_iou'])}")
        if step >= 0:
            text += (f" · timestep {int(self.steps['step_in_round'][step]) + 1} of the round: IoU "
                     f"{iou(self.steps['iou'][step])}")
        return text
