"""The regions automated strategies pick points from: the mask, and a band around it for exclusion.

Every strategy picks inclusion points from the ground-truth mask and exclusion points, with the
same rule, from the **exclusion band**: the pixels outside the mask whose Euclidean distance to
the nearest mask pixel d satisfies ``gap < d <= gap + width``, with

    r     = sqrt(|mask| / pi)        the radius of a disc of the mask's area (pixels)
    gap   = max(2, 0.1 r)            keeps exclusion points off the object's own outline
    width = max(4, 0.5 r)            how far out the band reaches

clipped to the image. So exclusion points sit near the object, where a human puts them to stop
SAM's mask leaking, and never on its boundary. When the band holds fewer pixels than the
exclusion budget (an object filling the image) it falls back to every pixel outside the mask.

Masks are (H, W) bool; regions are (H, W) bool; points are (x, y).
"""

from __future__ import annotations

import cv2
import numpy as np


def equivalent_radius(mask: np.ndarray) -> float:
    """Radius (pixels) of the disc with the area of the (H, W) bool ``mask``."""
    return float(np.sqrt(np.count_nonzero(mask) / np.pi))


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32: for each pixel outside ``mask``, the Euclidean distance to the nearest mask
    pixel; 0 on the mask. The image border does not count as mask."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def exclusion_band(mask: np.ndarray, minimum_pixels: int = 1) -> np.ndarray:
    """(H, W) bool exclusion band of a non-empty (H, W) bool ``mask`` (see the module docstring);
    every pixel outside the mask when the band has fewer than ``minimum_pixels``. Empty when the
    mask covers the image or is empty."""
    if not mask.any() or mask.all():
        return np.zeros_like(mask, dtype=bool)
    r = equivalent_radius(mask)
    gap, width = max(2.0, 0.1 * r), max(4.0, 0.5 * r)
    distance = distance_outside(mask)
    band = (distance > gap) & (distance <= gap + width)
    return band if np.count_nonzero(band) >= minimum_pixels else ~mask


def region_points(region: np.ndarray) -> np.ndarray:
    """(P, 2) int64 (x, y) of the region's pixels in row-major order."""
    rows, cols = np.nonzero(region)
    return np.stack([cols, rows], axis=1).astype(np.int64)


def eroded(region: np.ndarray, radius: int) -> np.ndarray:
    """``region`` eroded by a disc of ``radius`` pixels; the region itself when that leaves nothing.
    The image border does not erode (a region touching it keeps its pixels there)."""
    if radius <= 0:
        return region.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    shrunk = cv2.erode(region.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    return shrunk if shrunk.any() else region.copy()


def components(region: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of ``region`` as (H, W) bool masks, largest first (ties: label order)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind="stable") + 1
    return [labels == label for label in order]


def min_spacing(region: np.ndarray, n: int) -> float:
    """Half the spacing of ``n`` points spread evenly over the region: 0.5 sqrt(|region| / n) pixels;
    the distance strategies keep between their points where they can."""
    return 0.5 * float(np.sqrt(np.count_nonzero(region) / max(n, 1)))
