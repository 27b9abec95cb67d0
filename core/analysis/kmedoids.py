"""A small k-medoids for picking representative pixels of a region.

scikit-learn has no k-medoids (it lives in the separate scikit-learn-extra package, which we do
not depend on), so this is the "alternate" algorithm (Park & Jun 2009; Voronoi iteration) in
numpy: k-medoids++ seeding (k-means++ with distance, not squared distance, weights), then
assign every sample to its nearest medoid and move each medoid to the member with the least
summed distance to its cluster, until nothing changes. It runs on a random subsample of at most
``max_samples`` pixels, so its cost does not grow with the image. Distances are Euclidean
(SciPy's ``cdist``; SciPy comes with scikit-learn).
Medoids are always samples, so they are always pixels of the region (inside a non-convex shape
too, where a k-means centroid could fall outside).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) float64 Euclidean distances between rows of two (n, 2) arrays (SciPy's cdist)."""
    return cdist(a, b)


def _seed(samples: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct sample indices, k-medoids++: the first uniform, each next drawn with weight = distance
    to the nearest chosen one."""
    chosen = [int(rng.integers(len(samples)))]
    nearest = _pairwise(samples, samples[chosen])[:, 0]
    while len(chosen) < k:
        total = nearest.sum()
        pick = int(rng.choice(len(samples), p=nearest / total)) if total > 0 else \
            int(np.flatnonzero(~np.isin(np.arange(len(samples)), chosen))[0])
        chosen.append(pick)
        nearest = np.minimum(nearest, _pairwise(samples, samples[pick : pick + 1])[:, 0])
    return np.array(chosen)


def kmedoids(points: np.ndarray, k: int, rng: np.random.Generator, max_samples: int = 1500,
             max_iterations: int = 50) -> np.ndarray:
    """k medoids of (P, 2) integer points, as a (min(k, P'), 2) array of rows of ``points``.

    P' is the number of distinct points in the subsample (duplicates are dropped first). Medoids
    are ordered by the size of their cluster, largest first (ties: the medoid's order in
    ``points``), so the first medoid is the most representative one. Deterministic for a given
    ``rng`` state. Works in whatever coordinate order ``points`` uses ((x, y) here).
    """
    points = np.asarray(points)
    if k <= 0 or len(points) == 0:
        return np.zeros((0, 2), dtype=points.dtype if points.size else np.int64)
    if len(points) > max_samples:
        points = points[np.sort(rng.choice(len(points), size=max_samples, replace=False))]
    points = points[np.sort(np.unique(points, axis=0, return_index=True)[1])]
    if k >= len(points):
        return points.copy()
    samples = points.astype(np.float64)
    distances = _pairwise(samples, samples)
    medoids = _seed(samples, k, rng)
    for _ in range(max_iterations):
        assignment = np.argmin(distances[:, medoids], axis=1)
        updated = medoids.copy()
        for cluster in range(k):
            members = np.flatnonzero(assignment == cluster)
            if members.size:
                updated[cluster] = members[int(np.argmin(distances[np.ix_(members, members)].sum(1)))]
        if np.array_equal(np.sort(updated), np.sort(medoids)) or len(set(updated.tolist())) < k:
            break
        medoids = updated
    assignment = np.argmin(distances[:, medoids], axis=1)
    sizes = np.bincount(assignment, minlength=k)
    order = np.lexsort((medoids, -sizes))
    return points[medoids[order]].copy()
