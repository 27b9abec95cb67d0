"""Mask agreement metrics. scikit-learn's jaccard_score computes the same IoU but converts
and validates a 1-D copy of every mask; on the hot path of every click a two-line numpy
version is ~20× faster, and a test checks it against scikit-learn's definition."""

from __future__ import annotations

import numpy as np


def _check(prediction: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if prediction.shape != truth.shape:
        raise ValueError(f"mask sizes differ: prediction {prediction.shape} vs ground truth {truth.shape} (H, W)")
    return prediction.astype(bool, copy=False), truth.astype(bool, copy=False)


def iou(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two (H, W) masks; 1.0 when both are empty."""
    prediction, truth = _check(prediction, truth)
    union = np.count_nonzero(prediction | truth)
    return 1.0 if union == 0 else np.count_nonzero(prediction & truth) / union


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient 2|A∩B| / (|A|+|B|) of two (H, W) masks; 1.0 when both are empty."""
    prediction, truth = _check(prediction, truth)
    total = np.count_nonzero(prediction) + np.count_nonzero(truth)
    return 1.0 if total == 0 else 2 * np.count_nonzero(prediction & truth) / total
