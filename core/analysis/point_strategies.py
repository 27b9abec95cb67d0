"""Automated point selection: the PointPrompt paper's one-shot baselines.

Every strategy is a function

    strategy(truth, image, n_inclusion, n_exclusion, rng) -> (inclusion, exclusion)

truth (H, W) bool ground truth, image (H, W, 3) uint8 RGB, rng a ``numpy.random.Generator``;
inclusion (n, 2) and exclusion (m, 2) int64 (x, y) image pixels, in the strategy's own order
(its most important point first). Each applies one rule to two regions: inclusion points come
from the mask, exclusion points from the exclusion band around it
(:func:`core.analysis.point_regions.exclusion_band`: outside the mask, gap < d <= gap + width).
So inclusion points are always mask pixels and exclusion points never are. A strategy returns
exactly its budget unless the region has fewer pixels than that (then every pixel of it), and
the same points for the same ``rng`` state. The rules, r = the mask's equivalent radius:

* ``random``: pixels drawn uniformly without replacement.
* ``kmedoids``: k-medoids of the region's pixels (:mod:`core.analysis.kmedoids`), largest cluster first.
* ``shi_tomasi``: Shi-Tomasi corners of the grey image (``cv2.goodFeaturesToTrack``, quality 0.01,
  block 3, at least :func:`~core.analysis.point_regions.min_spacing` apart) inside the region
  eroded by a disc of max(1, round(0.1 r)) px, strongest first; when there are fewer corners than
  the budget, the rest are k-medoids of the eroded region's other pixels.
* ``max_entropy``: SAMAug's cue: the pixels of highest local grey-level entropy inside the region
  (window max(5, round(r / 2)) px, odd; :func:`~core.analysis.point_maps.local_entropy`), picked
  greedily at least min_spacing apart.
* ``max_distance``: farthest-point sampling: a first pixel drawn uniformly, then each next one the
  region pixel farthest (Euclidean) from all chosen so far (ties: first in row-major order).
* ``saliency``: the most salient pixels of the region by spectral-residual saliency
  (:func:`~core.analysis.point_maps.spectral_residual_saliency`), picked greedily min_spacing apart.
* ``per_object``: k-medoids per 8-connected component of the region ("object"), points shared by
  area (each component one point while the budget lasts, largest first; the rest by largest
  remainder of area share); ordered round-robin: every component's first medoid, then the
  second ones, components largest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from core.analysis.kmedoids import kmedoids
from core.analysis.point_maps import greedy_peaks, grey, local_entropy, spectral_residual_saliency
from core.analysis.point_regions import (components, equivalent_radius, eroded, exclusion_band, min_spacing,
                                         region_points)

Strategy = Callable[[np.ndarray, np.ndarray, int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass
class _Context:
    """What the pickers share for one image: the RGB image, its grey levels, the mask's radius."""

    image: np.ndarray
    radius: float
    _grey: np.ndarray | None = field(default=None, repr=False)
    _saliency: np.ndarray | None = field(default=None, repr=False)

    @property
    def grey(self) -> np.ndarray:
        if self._grey is None:
            self._grey = grey(self.image)
        return self._grey

    @property
    def saliency(self) -> np.ndarray:
        if self._saliency is None:
            self._saliency = spectral_residual_saliency(self.image)
        return self._saliency


Picker = Callable[[np.ndarray, int, np.random.Generator, _Context], np.ndarray]


def _random_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    points = region_points(region)
    return points[rng.choice(len(points), size=min(n, len(points)), replace=False)]


def _kmedoids_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    return kmedoids(region_points(region), n, rng)


def _shi_tomasi_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    domain = eroded(region, max(1, round(0.1 * context.radius)))
    found = cv2.goodFeaturesToTrack(context.grey, maxCorners=n, qualityLevel=0.01,
                                    minDistance=max(1.0, min_spacing(domain, n)), mask=domain.astype(np.uint8),
                                    blockSize=3)
    corners = np.zeros((0, 2), np.int64) if found is None else np.rint(found.reshape(-1, 2)).astype(np.int64)
    corners = corners[domain[corners[:, 1], corners[:, 0]]][:n]
    if len(corners) >= n:
        return corners
    rest = domain.copy()
    rest[corners[:, 1], corners[:, 0]] = False
    if np.count_nonzero(rest) < n - len(corners):  # a tiny eroded region: fill from the whole region
        rest = region.copy()
        rest[corners[:, 1], corners[:, 0]] = False
    return np.concatenate([corners, kmedoids(region_points(rest), n - len(corners), rng)])


def _max_entropy_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    window = max(5, round(context.radius / 2))
    return greedy_peaks(local_entropy(context.grey, region, window), region, n, min_spacing(region, n))


def _max_distance_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    points = region_points(region)
    if n <= 0 or not len(points):
        return np.zeros((0, 2), np.int64)
    chosen = [int(rng.integers(len(points)))]
    nearest = ((points - points[chosen[0]]) ** 2).sum(1)
    while len(chosen) < min(n, len(points)):
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, ((points - points[chosen[-1]]) ** 2).sum(1))
    return points[chosen]


def _saliency_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    return greedy_peaks(context.saliency, region, n, min_spacing(region, n))


def share_by_area(n: int, areas: list[int]) -> list[int]:
    """Split ``n`` points over parts of the given areas (largest first): one each while they last,
    the rest in proportion to area by largest remainder (ties: the larger part), never more than a
    part's area."""
    counts = [0] * len(areas)
    for i in range(min(n, len(areas))):
        counts[i] = 1
    left = n - sum(counts)
    room = [a - c for a, c in zip(areas, counts)]
    while left > 0 and sum(room) > 0:
        open_parts = [i for i in range(len(areas)) if room[i] > 0]
        total = sum(areas[i] for i in open_parts)
        quota = {i: left * areas[i] / total for i in open_parts}
        give = {i: min(int(quota[i]), room[i]) for i in open_parts}
        rest = left - sum(give.values())
        for i in sorted(open_parts, key=lambda i: (-(quota[i] - int(quota[i])), -areas[i], i)):
            if rest == 0:
                break
            if give[i] < room[i]:
                give[i] += 1
                rest -= 1
        for i, extra in give.items():
            counts[i] += extra
            room[i] -= extra
        left -= sum(give.values())
    return counts


def _per_object_pick(region: np.ndarray, n: int, rng: np.random.Generator, context: _Context) -> np.ndarray:
    parts = components(region)
    counts = share_by_area(n, [int(np.count_nonzero(p)) for p in parts])
    picked = [kmedoids(region_points(part), k, rng) for part, k in zip(parts, counts) if k > 0]
    ordered = [p[j] for j in range(max((len(p) for p in picked), default=0)) for p in picked if j < len(p)]
    return np.array(ordered, dtype=np.int64).reshape(-1, 2)


def _strategy(name: str, picker: Picker, doc: str) -> Strategy:
    """A strategy function that applies ``picker`` to the mask (inclusion) and the exclusion band."""
    def strategy(truth: np.ndarray, image: np.ndarray, n_inclusion: int, n_exclusion: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        truth = np.asarray(truth, dtype=bool)
        if image.shape[:2] != truth.shape:
            raise ValueError(f"image {image.shape[:2]} and ground truth {truth.shape} differ in size (H, W)")
        context = _Context(image, equivalent_radius(truth))
        band = exclusion_band(truth, n_exclusion)
        inclusion = picker(truth, n_inclusion, rng, context) if n_inclusion > 0 and truth.any() else None
        exclusion = picker(band, n_exclusion, rng, context) if n_exclusion > 0 and band.any() else None
        return tuple(np.zeros((0, 2), np.int64) if p is None else np.asarray(p, np.int64).reshape(-1, 2)
                     for p in (inclusion, exclusion))

    strategy.__name__ = strategy.__qualname__ = name
    strategy.__doc__ = doc + " See the module docstring for the exact rule and the regions."
    return strategy


random_points = _strategy("random_points", _random_pick, "Random pixels inside the mask / in the exclusion band.")
kmedoids_points = _strategy("kmedoids_points", _kmedoids_pick, "k-medoids of the mask's / the band's pixels.")
shi_tomasi_points = _strategy("shi_tomasi_points", _shi_tomasi_pick,
                              "Shi-Tomasi corners on the eroded mask / band, k-medoids fill-in.")
max_entropy_points = _strategy("max_entropy_points", _max_entropy_pick, "Highest local-entropy pixels (SAMAug).")
max_distance_points = _strategy("max_distance_points", _max_distance_pick,
                                "Farthest-point sampling from a random first pixel.")
saliency_points = _strategy("saliency_points", _saliency_pick, "Most salient pixels (spectral residual).")
per_object_points = _strategy("per_object_points", _per_object_pick,
                              "k-medoids per connected component, shared by area.")

STRATEGIES: dict[str, Strategy] = {
    "random": random_points,
    "kmedoids": kmedoids_points,
    "shi_tomasi": shi_tomasi_points,
    "max_entropy": max_entropy_points,
    "max_distance": max_distance_points,
    "saliency": saliency_points,
    "per_object": per_object_points,
}
