"""How good is a trust score? Accuracy–rejection curves, AUAC / AUFC, and detection metrics.

All functions take ``trust`` oriented higher = trust more (core.gradients.trust_scores.as_trust).

Accuracy–rejection (GradTrust slides): samples are ranked by trust, most trusted first; ties in
a random order drawn from ``seed``. For a retained count k the retained set is the k most
trusted samples; the curve gives its accuracy and macro-F1: the mean over the classes present
in the retained labels or predictions of 2TP / (2TP + FP + FN), which is scikit-learn's
``f1_score(average="macro")`` (tested equal; counted here with ``np.bincount``, because one
``f1_score`` call per grid point, score and set dominated an evaluation's time). The grid
(:func:`retained_counts`): with ``points`` = None or N ≤ points, every k = 1..N (fractions
k/N); otherwise k_i = ⌈i·N/points⌉, i = 1..points (fractions ≈ i/points). AUAC and AUFC are
the means of the curves over the grid: the areas under the step curves over retained fractions
in (0, 1]. The risk–coverage curve on the same grid (risk = 1 − accuracy) has area
AURC = 1 − AUAC (Geifman et al. 2018 use the full grid k = 1..N). AUAC lies between the
accuracy (a random score, in expectation) and the best possible value (a score that ranks
every correct sample first).

Misprediction detection: AUROC of −trust for "the prediction is wrong" (scikit-learn).

OOD / corruption detection, with in-distribution (clean) samples as positives, ranked by trust:
AUROC; AUPR-In (in-distribution positive, scored by trust) and AUPR-Out (OOD positive, scored
by −trust), both scikit-learn's average precision; FPR at 95 % TPR: the fraction of OOD samples
whose trust is at least the threshold that keeps 95 % of the in-distribution samples (ODIN's
convention); detection accuracy: max over thresholds of ½(TPR + TNR), i.e. 1 − ODIN's detection
error with equal priors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class RejectionCurve:
    """retained: (K,) counts; fraction: (K,) retained fractions; accuracy, macro_f1: (K,)."""

    retained: np.ndarray
    fraction: np.ndarray
    accuracy: np.ndarray
    macro_f1: np.ndarray

    @property
    def auac(self) -> float:
        return float(self.accuracy.mean())

    @property
    def aufc(self) -> float:
        return float(self.macro_f1.mean())

    @property
    def aurc(self) -> float:
        """Area under the risk–coverage curve on the same grid: mean of 1 − accuracy."""
        return float((1.0 - self.accuracy).mean())


def retained_counts(n: int, points: int | None = 100) -> np.ndarray:
    """The grid of retained counts (see the module docstring): (K,) int, increasing, last = n."""
    if n < 1:
        raise ValueError("no samples to rank")
    if points is None or n <= points:
        return np.arange(1, n + 1)
    return np.array([math.ceil(i * n / points) for i in range(1, points + 1)])


def trust_order(trust: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices from most to least trusted; ties in a random order fixed by ``seed``. NaN trust last."""
    trust = np.asarray(trust, np.float64)
    tie_break = np.random.default_rng(seed).permutation(len(trust))
    key = np.where(np.isnan(trust), -np.inf, trust)
    return np.lexsort((tie_break, -key))


def macro_f1_curve(labels: np.ndarray, predictions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Macro-F1 of the first k of (N,) ``labels`` / ``predictions`` (class indices) for each k of ``counts``."""
    classes = int(max(labels.max(), predictions.max())) + 1
    out = np.empty(len(counts))
    for i, k in enumerate(counts):
        y, p = labels[:k], predictions[:k]
        tp = np.bincount(y[y == p], minlength=classes)
        support, predicted = np.bincount(y, minlength=classes), np.bincount(p, minlength=classes)
        present = (support + predicted) > 0
        out[i] = np.mean(2 * tp[present] / (support[present] + predicted[present]))
    return out


def rejection_curve(trust: np.ndarray, labels: np.ndarray, predictions: np.ndarray, points: int | None = 100,
                    seed: int = 0) -> RejectionCurve:
    """Accuracy and macro-F1 of the k most trusted samples for every k of the grid.

    ``trust``, ``labels``, ``predictions``: (N,) each (labels and predictions: class indices ≥ 0).
    """
    labels, predictions = np.asarray(labels, np.int64), np.asarray(predictions, np.int64)
    order = trust_order(trust, seed)
    counts = retained_counts(len(order), points)
    correct = np.cumsum(labels[order] == predictions[order])
    accuracy = correct[counts - 1] / counts
    f1 = macro_f1_curve(labels[order], predictions[order], counts)
    return RejectionCurve(counts, counts / len(order), accuracy, f1)


def aurc(trust: np.ndarray, correct: np.ndarray, points: int | None = None, seed: int = 0) -> float:
    """Area under the risk–coverage curve (Geifman et al. 2018), computed on its own: mean over the
    grid of the error rate among the k most trusted samples. With ``points`` = None, k = 1..N."""
    wrong = ~np.asarray(correct, bool)[trust_order(trust, seed)]
    counts = retained_counts(len(wrong), points)
    return float(np.mean([wrong[:k].mean() for k in counts]))


def misprediction_auroc(trust: np.ndarray, correct: np.ndarray) -> float:
    """AUROC of −trust for detecting wrong predictions; NaN when all are right or all wrong."""
    from sklearn.metrics import roc_auc_score

    wrong = ~np.asarray(correct, bool)
    if wrong.all() or not wrong.any():
        return float("nan")
    return float(roc_auc_score(wrong, -np.asarray(trust, np.float64)))


def detection_metrics(trust_in: np.ndarray, trust_out: np.ndarray, tpr_level: float = 0.95) -> dict[str, float]:
    """In-distribution (N,) vs OOD / corrupted (M,) trust → AUROC, AUPR-In, AUPR-Out, FPR@95TPR,
    detection accuracy (see the module docstring). NaN everywhere when either side is empty or NaN."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    trust_in, trust_out = np.asarray(trust_in, np.float64), np.asarray(trust_out, np.float64)
    names = ("auroc", "aupr_in", "aupr_out", "fpr95", "detection_accuracy")
    if len(trust_in) == 0 or len(trust_out) == 0 or np.isnan(trust_in).any() or np.isnan(trust_out).any():
        return {name: float("nan") for name in names}
    is_in = np.r_[np.ones(len(trust_in), bool), np.zeros(len(trust_out), bool)]
    trust = np.r_[trust_in, trust_out]
    fpr, tpr, _ = roc_curve(is_in, trust, drop_intermediate=False)
    return {"auroc": float(roc_auc_score(is_in, trust)),
            "aupr_in": float(average_precision_score(is_in, trust)),
            "aupr_out": float(average_precision_score(~is_in, -trust)),
            "fpr95": float(fpr[np.searchsorted(tpr, tpr_level - 1e-12, side="left")]),
            "detection_accuracy": float(np.max(0.5 * (tpr + 1.0 - fpr)))}
