"""Mask agreement metrics.

scikit-learn's ``jaccard_score`` computes the same IoU, but it validates and label-encodes a
1-D copy of every mask: on a 2000×1500 mask it took 444 ms against 1.2 ms here (one core,
2026-11-27). IoU runs on every click, so these are two numpy lines, tested against
scikit-learn's definitions in tests/test_metrics.py."""

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


def iou_and_dice(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(IoU, Dice) of two (H, W) masks from one pass over the pixels (both 1.0 when both are empty)."""
    prediction, truth = _check(prediction, truth)
    inter = np.count_nonzero(prediction & truth)
    total = np.count_nonzero(prediction) + np.count_nonzero(truth)
    if total == 0:
        return 1.0, 1.0
    return inter / (total - inter), 2 * inter / total
