"""Simulated clicks of the standard interactive-segmentation protocol.

The first click goes to the object's most interior point (the maximum of the distance
transform); every later click goes to the most interior point of the largest error:
an inclusion click when that point lies in a false-negative region, an exclusion click when
it lies in a false-positive region. Points are (x, y) in image pixels; masks are (H, W) bool.
OpenCV's distance transform does the work; what is written here is only the protocol.
"""

from __future__ import annotations

import cv2
import numpy as np


def _interior_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 distance of each pixel of ``mask`` to the nearest pixel outside it,
    counting the image border as outside."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def most_interior_point(mask: np.ndarray) -> tuple[int, int]:
    """The (x, y) pixel of ``mask`` farthest from its boundary (first in row-major order on ties).

    Raises ValueError for an empty mask.
    """
    if not mask.any():
        raise ValueError("the mask is empty: there is no interior point to click")
    distance = _interior_distance(mask)
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(col), int(row)


def corrective_click(prediction: np.ndarray, truth: np.ndarray) -> tuple[tuple[int, int], int] | None:
    """The next click for ``prediction`` against ``truth``, both (H, W) bool.

    Returns ((x, y), label) with label 1 for inclusion (false negative) and 0 for exclusion
    (false positive), or None when the prediction is already exact.
    """
    false_negative = truth & ~prediction
    false_positive = prediction & ~truth
    fn_distance = _interior_distance(false_negative)
    fp_distance = _interior_distance(false_positive)
    fn_best, fp_best = float(fn_distance.max()), float(fp_distance.max())
    if fn_best == 0 and fp_best == 0:
        return None
    is_inclusion = fn_best >= fp_best
    distance = fn_distance if is_inclusion else fp_distance
    row, col = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return (int(col), int(row)), int(is_inclusion)


def random_interior_point(rng: np.random.Generator, mask: np.ndarray, min_depth: float = 0.0) -> tuple[int, int]:
    """A random (x, y) pixel of ``mask`` at least ``min_depth`` pixels from its boundary
    (any pixel of the mask when none is that deep)."""
    distance = _interior_distance(mask)
    rows, cols = np.nonzero(distance > min_depth)
    if rows.size == 0:
        rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("the mask is empty: there is no point to click")
    pick = int(rng.integers(rows.size))
    return int(cols[pick]), int(rows[pick])
