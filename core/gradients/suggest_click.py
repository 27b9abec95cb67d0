"""Where the next click should go, asked of the model: the most uncertain region of a map.

The mask splits the image in two: uncertainty inside the mask suggests a false positive (an
exclusion click), outside it a false negative (an inclusion click), as the standard corrective
protocol labels its clicks. On each side the pixels at or above half the map's maximum form
regions (8-connected); the region with the largest uncertainty mass wins, and the suggestion
is its most interior pixel. Pixels near an existing point are left out, so a suggestion never
repeats a click. Coordinates are (x, y) image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.prompting.click_simulation import most_interior_point

MIN_PEAK = 0.05  # a map whose maximum (away from the points) is below this suggests nothing
KEEP_AWAY_FRACTION = 0.02  # of the image's longer side: no suggestion this close to a point


@dataclass(frozen=True)
class Suggestion:
    """x, y: image pixel; label: 1 inclusion (outside the mask), 0 exclusion (inside);
    source: the map it came from; mass: the chosen region's summed uncertainty."""

    x: int
    y: int
    label: int
    source: str
    mass: float


def suggest_click(uncertainty: np.ndarray, mask: np.ndarray, source: str,
                  points: np.ndarray | None = None) -> Suggestion | None:
    """The suggested next click from an (H, W) uncertainty map in [0, 1] and the (H, W) bool
    mask; ``points``: (N, 2) (x, y) existing points to keep away from. None when the map shows
    no uncertainty (maximum below ``MIN_PEAK``)."""
    if uncertainty.shape != mask.shape:
        raise ValueError(f"map {uncertainty.shape} and mask {mask.shape} differ in size")
    values = np.nan_to_num(uncertainty.astype(np.float32), nan=0.0).clip(0, 1)
    if points is not None and len(points):
        radius = max(2, int(round(KEEP_AWAY_FRACTION * max(mask.shape))))
        keep_away = np.zeros(mask.shape, np.uint8)
        for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2):
            cv2.circle(keep_away, (int(round(x)), int(round(y))), radius, 1, -1)
        values[keep_away > 0] = 0
    peak = float(values.max())
    if peak < MIN_PEAK:
        return None
    best: tuple[float, np.ndarray, int] | None = None
    for side, label in ((mask, 0), (~mask, 1)):
        count, regions = cv2.connectedComponents(((values >= peak / 2) & side).astype(np.uint8), connectivity=8)
        if count <= 1:
            continue
        masses = np.bincount(regions.ravel(), weights=values.ravel(), minlength=count)[1:]
        region = int(np.argmax(masses)) + 1
        if best is None or masses[region - 1] > best[0]:
            best = (float(masses[region - 1]), regions == region, label)
    mass, region_mask, label = best
    x, y = most_interior_point(region_mask)
    return Suggestion(x, y, label, source, mass)
