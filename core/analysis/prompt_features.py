"""The PointPrompt paper's human-interpretable prompt features, one small function each.

Points are (n, 2) float arrays of (x, y) image pixels (x = column, y = row, origin top-left),
the sets present at one timestep (points/<i>_green.npy and _red.npy). The ground truth is an
(H, W) bool mask. Two lengths normalise the features:

* **diameter** of the ground truth (:func:`mask_diameter`): the largest Euclidean distance
  between the centres of two of its pixels (0 for a one-pixel mask, NaN for an empty one);
* **diagonal** of the image (:func:`image_diagonal`): sqrt(H² + W²).

A feature that a timestep cannot define is NaN, never an exception: no inclusion points (our
free mode records such timesteps), no exclusion points (the lab's feature code fails there), an
empty ground truth, a one-pixel ground truth (diameter 0). Where a definition differs in detail
from the lab's script (feature_extraction/ in olivesgatech/PointPrompt), the function says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PROMPT_FEATURES = ("coverage", "max_spread", "nn_distance", "chamfer_distance", "exclusion_spread",
                   "inclusion_efficiency", "exclusion_encasing", "inclusion_encasing")


def _points(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) Euclidean distances between (n, 2) and (m, 2) (x, y) point arrays."""
    a, b = _points(a), _points(b)
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))


def image_diagonal(shape: tuple[int, ...]) -> float:
    """sqrt(H² + W²) of an image or mask of shape (H, W, ...)."""
    return float(np.hypot(shape[0], shape[1]))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """(k, 2) vertices of the convex hull of (n, 2) (x, y) points, counter-clockwise in (x, y)
    axes (Andrew's monotone chain), without repeated or collinear vertices. Fewer than 3
    vertices means the points are collinear (or fewer than 3 distinct)."""
    unique = np.unique(_points(points), axis=0)  # sorted by x, then y
    if len(unique) < 3:
        return unique

    def half(sequence) -> list:
        chain: list = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(unique), half(unique[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def mask_diameter(truth: np.ndarray) -> float:
    """Largest distance between the centres of two pixels of an (H, W) bool mask, in pixels
    (taken over the vertices of the pixels' convex hull); 0 for one pixel, NaN when empty."""
    rows, cols = np.nonzero(truth)
    if rows.size == 0:
        return float("nan")
    hull = cv2.convexHull(np.stack([cols, rows], axis=1).astype(np.int32)).reshape(-1, 2)
    return float(pairwise_distances(hull, hull).max())


@dataclass
class TruthGeometry:
    """What the features need of one ground truth, computed once per image.

    truth: (H, W) bool. inside: (H, W) float32, for an object pixel the distance to the nearest
    pixel outside the object, the image border counting as outside (0 off the object).
    outside: (H, W) float32, for a background pixel the distance to the nearest object pixel (0
    on the object). diameter and diagonal as in the module docstring.
    """

    truth: np.ndarray
    inside: np.ndarray
    outside: np.ndarray
    diameter: float
    diagonal: float

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.truth))


def truth_geometry(truth: np.ndarray) -> TruthGeometry:
    """Distance maps and lengths of an (H, W) bool ground truth (OpenCV's exact Euclidean
    distance transform)."""
    truth = np.asarray(truth, dtype=bool)
    padded = np.pad(truth.astype(np.uint8), 1)
    inside = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    if truth.any():
        outside = cv2.distanceTransform((~truth).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    else:
        outside = np.full(truth.shape, np.inf, np.float32)
    return TruthGeometry(truth, inside, outside, mask_diameter(truth), image_diagonal(truth.shape))


def _hull_contains(hull: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(N,) bool: which (x, y) lie inside or on a counter-clockwise hull of ≥ 3 vertices."""
    inside = np.ones(xs.shape, bool)
    scale = float(np.abs(hull).max()) + 1.0
    for start, end in zip(hull, np.roll(hull, -1, axis=0)):
        cross = (end[0] - start[0]) * (ys - start[1]) - (end[1] - start[1]) * (xs - start[0])
        inside &= cross >= -1e-9 * scale * scale
    return inside


def prompt_coverage(inclusion: np.ndarray, truth: np.ndarray) -> float:
    """Share of the ground truth's pixels whose centre lies inside (or on) the convex hull of
    the inclusion points, in [0, 1].

    0 with fewer than 3 inclusion points or when they are collinear (the hull has no area), as
    in the paper; NaN for an empty ground truth. Exact: pixel centres are tested against the
    hull's edges (the lab's script rasterises the hull with cv2.fillPoly instead, which also
    counts pixels the edge only touches).
    """
    truth = np.asarray(truth, dtype=bool)
    area = np.count_nonzero(truth)
    if area == 0:
        return float("nan")
    hull = convex_hull(inclusion)
    if len(hull) < 3:
        return 0.0
    h, w = truth.shape
    x0, y0 = max(0, int(np.floor(hull[:, 0].min()))), max(0, int(np.floor(hull[:, 1].min())))
    x1, y1 = min(w - 1, int(np.ceil(hull[:, 0].max()))), min(h - 1, int(np.ceil(hull[:, 1].max())))
    if x1 < x0 or y1 < y0:
        return 0.0
    rows, cols = np.nonzero(truth[y0:y1 + 1, x0:x1 + 1])
    covered = _hull_contains(hull, (cols + x0).astype(np.float64), (rows + y0).astype(np.float64))
    return float(np.count_nonzero(covered) / area)


def _max_pairwise(points: np.ndarray) -> float:
    """Largest distance between two of (n, 2) points; 0 for one point, NaN for none."""
    points = _points(points)
    if len(points) == 0:
        return float("nan")
    return float(pairwise_distances(points, points).max())


def _per_length(value: float, length: float) -> float:
    return float(value / length) if np.isfinite(length) and length > 0 else float("nan")


def max_spread(inclusion: np.ndarray, diameter: float) -> float:
    """Largest distance between two inclusion points / the ground truth's diameter.

    0 for one inclusion point; NaN for none, or when the diameter is 0 or NaN."""
    return _per_length(_max_pairwise(inclusion), diameter)


def nn_distance(inclusion: np.ndarray, diameter: float) -> float:
    """Mean over the inclusion points of the distance to the nearest other inclusion point /
    the ground truth's diameter (two points at the same pixel are at 0).

    0 for one inclusion point (as the lab's script); NaN for none, or when the diameter is 0 or
    NaN. (The lab's script takes the root of the mean squared distance instead of the mean.)"""
    points = _points(inclusion)
    if len(points) == 0:
        return float("nan")
    if len(points) == 1:
        return _per_length(0.0, diameter)
    distances = pairwise_distances(points, points)
    np.fill_diagonal(distances, np.inf)
    return _per_length(float(distances.min(axis=1).mean()), diameter)


def chamfer_distance(inclusion: np.ndarray, exclusion: np.ndarray, diagonal: float) -> float:
    """Symmetric chamfer distance between inclusion and exclusion points / the image diagonal:
    (mean over inclusion points of the distance to the nearest exclusion point + the same from
    the exclusion side) / 2. NaN when either set is empty."""
    inclusion, exclusion = _points(inclusion), _points(exclusion)
    if len(inclusion) == 0 or len(exclusion) == 0:
        return float("nan")
    distances = pairwise_distances(inclusion, exclusion)
    return _per_length(float((distances.min(axis=1).mean() + distances.min(axis=0).mean()) / 2), diagonal)


def exclusion_spread(exclusion: np.ndarray, diagonal: float) -> float:
    """Largest distance between two exclusion points / the image diagonal; 0 for one exclusion
    point, NaN for none."""
    return _per_length(_max_pairwise(exclusion), diagonal)


def inclusion_efficiency(coverage: float, n_inclusion: int) -> float:
    """Coverage per inclusion point: coverage / n_inclusion; NaN with no inclusion points."""
    return float(coverage / n_inclusion) if n_inclusion > 0 else float("nan")


def _pixels(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of (n, 2) (x, y) points rounded to the nearest pixel and clipped to the image."""
    points = np.rint(_points(points)).astype(np.int64)
    return np.clip(points[:, 1], 0, shape[0] - 1), np.clip(points[:, 0], 0, shape[1] - 1)


def signed_depth(points: np.ndarray, geometry: TruthGeometry, inside_positive: bool) -> np.ndarray:
    """(n,) distance of each point's pixel to the ground truth's contour: to the nearest pixel on
    the contour's other side (so a pixel next to the contour is at 1). Positive on the object's
    inside when ``inside_positive``, else positive outside; negative on the other side."""
    rows, cols = _pixels(points, geometry.truth.shape)
    on_object = geometry.truth[rows, cols]
    depth = np.where(on_object, geometry.inside[rows, cols], -geometry.outside[rows, cols]).astype(np.float64)
    return depth if inside_positive else -depth


def _encasing(points: np.ndarray, geometry: TruthGeometry, inside_positive: bool, length: float) -> float:
    points = _points(points)
    if len(points) == 0 or geometry.area == 0:
        return float("nan")
    return _per_length(max(0.0, float(signed_depth(points, geometry, inside_positive).mean())), length)


def exclusion_encasing(exclusion: np.ndarray, geometry: TruthGeometry) -> float:
    """How far outside the object the exclusion points sit: the mean signed distance of the
    exclusion points to the ground truth's contour (:func:`signed_depth`, positive outside, a
    point on the object counting negatively), floored at 0 as in the lab's script, / the image
    diagonal. NaN with no exclusion points or an empty ground truth."""
    return _encasing(exclusion, geometry, inside_positive=False, length=geometry.diagonal)


def inclusion_encasing(inclusion: np.ndarray, geometry: TruthGeometry) -> float:
    """How deep inside the object the inclusion points sit: the mean signed distance of the
    inclusion points to the contour (positive inside, a point off the object counting
    negatively), floored at 0, / the ground truth's diameter (the lab's script normalises
    exclusion encasing by the diagonal and inclusion encasing by the diameter; so do we). NaN
    with no inclusion points, an empty ground truth or a diameter of 0."""
    return _encasing(inclusion, geometry, inside_positive=True, length=geometry.diameter)


def prompt_features(inclusion: np.ndarray, exclusion: np.ndarray, geometry: TruthGeometry | None,
                    image_size: tuple[int, int] | None) -> dict[str, float]:
    """All of PROMPT_FEATURES for one timestep's (n, 2) inclusion and (m, 2) exclusion (x, y).

    geometry: the ground truth's (None without one: every feature that needs it is NaN).
    image_size: (H, W), for the diagonal when there is no ground truth (None: NaN)."""
    inclusion, exclusion = _points(inclusion), _points(exclusion)
    nan = float("nan")
    diagonal = geometry.diagonal if geometry is not None else (image_diagonal(image_size) if image_size else nan)
    features = dict.fromkeys(PROMPT_FEATURES, nan)
    features["chamfer_distance"] = chamfer_distance(inclusion, exclusion, diagonal)
    features["exclusion_spread"] = exclusion_spread(exclusion, diagonal)
    if geometry is None or geometry.area == 0:
        return features
    coverage = prompt_coverage(inclusion, geometry.truth)
    features.update(coverage=coverage, max_spread=max_spread(inclusion, geometry.diameter),
                    nn_distance=nn_distance(inclusion, geometry.diameter),
                    inclusion_efficiency=inclusion_efficiency(coverage, len(inclusion)),
                    exclusion_encasing=exclusion_encasing(exclusion, geometry),
                    inclusion_encasing=inclusion_encasing(inclusion, geometry))
    return features
