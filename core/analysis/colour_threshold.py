"""The colour-threshold baseline for point prompts: what a segmenter has to beat.

A pixel is foreground when its colour lies within ``tolerance`` (Euclidean RGB distance) of an
inclusion click's colour and it is connected to that click through such pixels. An exclusion
click whose colour differs from the inclusion colours (by more than half the tolerance) also
removes the pixels closer in colour to it; one of the same colour instead splits the region
spatially: pixels nearer to it than to every inclusion click go. A later inclusion click
whose flood covers more than half the image is ignored (a leak). A click's colour is the median
of the 5×5 patch around it, after a 3×3 Gaussian smoothing of the image. No learning, no
parameters but the tolerance.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_TOLERANCE = 55.0


def _click_colour(image: np.ndarray, x: int, y: int) -> np.ndarray:
    patch = image[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3].reshape(-1, 3)
    return np.median(patch, axis=0)


def colour_threshold_mask(image: np.ndarray, points: np.ndarray, labels: np.ndarray,
                          tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """(H, W) bool mask for (H, W, 3) uint8 ``image``, (N, 2) (x, y) ``points``, (N,) 1/0 ``labels``."""
    smooth = cv2.GaussianBlur(image, (3, 3), 0).astype(np.float32)
    points = np.asarray(points, int).reshape(-1, 2)
    labels = np.asarray(labels).reshape(-1)
    colours = [_click_colour(smooth, x, y) for x, y in points]
    positive = [k for k, label in enumerate(labels) if label == 1]
    negative = [k for k, label in enumerate(labels) if label == 0]
    distance = {k: np.linalg.norm(smooth - colours[k], axis=2) for k in range(len(points))}
    closest_positive = np.min([distance[k] for k in positive], axis=0) if positive else None
    mask = np.zeros(image.shape[:2], bool)
    for k in positive:
        x, y = points[k]
        candidate = distance[k] <= tolerance
        for n in negative:
            if min(np.linalg.norm(colours[n] - colours[p]) for p in positive) > tolerance / 2:
                candidate &= distance[n] > closest_positive
        candidate = candidate.astype(np.uint8)
        candidate[y, x] = 1  # the clicked pixel always belongs to its own region
        _, components = cv2.connectedComponents(candidate, connectivity=4)
        region = components == components[y, x]
        if k != positive[0] and region.sum() > 0.5 * region.size:
            continue  # a later click's flood into half the image is a leak, as a user would undo it
        mask |= region
    same_colour_negatives = [n for n in negative if mask[points[n][1], points[n][0]]]
    if same_colour_negatives and positive:
        yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
        def nearest(ks):
            return np.min([(xx - points[k][0]) ** 2 + (yy - points[k][1]) ** 2 for k in ks], axis=0)
        mask &= nearest(positive) <= nearest(same_colour_negatives)
    return mask
