"""The PointPrompt paper's data features of an image and its ground truth.

* mask share: object pixels / image pixels;
* connected components of the ground truth (4-connected, as scipy.ndimage.label counts them
  in the lab's script);
* edge density ("texture"): Canny edges (thresholds 100 and 200, the lab's) of the grey image
  that fall on the object / object pixels. Canny runs on the whole grey image, so the object's
  outline counts only where the image has an edge there (the lab's script runs it on the
  masked image, whose cut-out adds an edge all around the object);
* grey-level co-occurrence (GLCM) properties of the object and of the background: contrast,
  homogeneity, energy, correlation (the definitions of scikit-image's ``graycoprops``, written
  here with numpy: scikit-image is not a dependency).

Images are (H, W, 3) uint8 RGB or (H, W) uint8 grey; masks (H, W) bool.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.analysis.prompt_features import image_diagonal, mask_diameter

GLCM_PROPERTIES = ("contrast", "homogeneity", "energy", "correlation")
DATA_FEATURES = ("mask_share", "components", "edge_density",
                 *(f"glcm_{region}_{name}" for region in ("object", "background") for name in GLCM_PROPERTIES))
DIRECTIONS = ((1, 0), (0, 1))  # (dx, dy): the right neighbour (0°) and the one below (90°)


def grey_levels(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey of an (H, W, 3) RGB or (H, W) grey uint8 image (OpenCV's luma weights)."""
    image = np.asarray(image)
    if image.ndim == 3:
        return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return image.astype(np.uint8, copy=False)


def mask_share(truth: np.ndarray) -> float:
    """Object pixels / all pixels of an (H, W) bool mask, in [0, 1]."""
    return float(np.count_nonzero(truth) / truth.size)


def connected_components(truth: np.ndarray) -> int:
    """Number of 4-connected object regions of an (H, W) bool mask (0 when empty)."""
    count, _ = cv2.connectedComponents(np.asarray(truth, dtype=np.uint8), connectivity=4)
    return int(count - 1)


def edge_density(grey: np.ndarray, truth: np.ndarray, low: float = 100, high: float = 200) -> float:
    """Canny edge pixels of the (H, W) uint8 grey image on the object / object pixels; NaN when
    the object is empty."""
    area = np.count_nonzero(truth)
    if area == 0:
        return float("nan")
    edges = cv2.Canny(np.ascontiguousarray(grey), low, high) > 0
    return float(np.count_nonzero(edges & truth) / area)


def co_occurrence(grey: np.ndarray, region: np.ndarray, dx: int, dy: int, levels: int = 256) -> np.ndarray:
    """(levels, levels) int64 counts of grey-level pairs (value at (x, y), value at (x + dx, y + dy))
    over the pixel pairs with both pixels in ``region`` (an (H, W) bool mask). Not symmetric.

    grey: (H, W) uint8, quantised to ``levels`` levels by value * levels // 256; dx, dy ≥ 0.
    """
    h, w = grey.shape
    quantised = (grey.astype(np.int64) * levels) // 256
    first, second = quantised[:h - dy, :w - dx], quantised[dy:, dx:]
    both = region[:h - dy, :w - dx] & region[dy:, dx:]
    pairs = first[both] * levels + second[both]
    return np.bincount(pairs, minlength=levels * levels).reshape(levels, levels)


def glcm_properties(counts: np.ndarray) -> dict[str, float]:
    """GLCM_PROPERTIES of a (L, L) co-occurrence count matrix, normalised to P summing to 1
    (i: the first pixel's level, j: its neighbour's):

    contrast = Σ P(i, j) (i − j)²; homogeneity = Σ P(i, j) / (1 + (i − j)²);
    energy = sqrt(Σ P(i, j)²); correlation = Σ P(i, j) (i − μi)(j − μj) / (σi σj), with μ, σ
    the mean and standard deviation of i and of j under P, and 1 when σi σj is 0 (a flat
    region), as scikit-image sets it. All NaN when there is no pair.
    """
    total = counts.sum()
    if total == 0:
        return dict.fromkeys(GLCM_PROPERTIES, float("nan"))
    p = counts / total
    levels = np.arange(p.shape[0], dtype=np.float64)
    i, j = levels[:, None], levels[None, :]
    p_i, p_j = p.sum(axis=1), p.sum(axis=0)
    mean_i, mean_j = float(levels @ p_i), float(levels @ p_j)
    std_i = float(np.sqrt(((levels - mean_i) ** 2) @ p_i))
    std_j = float(np.sqrt(((levels - mean_j) ** 2) @ p_j))
    difference = (i - j) ** 2
    covariance = float(((i - mean_i) * (j - mean_j) * p).sum())
    return {"contrast": float((p * difference).sum()), "homogeneity": float((p / (1 + difference)).sum()),
            "energy": float(np.sqrt((p ** 2).sum())),
            "correlation": 1.0 if std_i * std_j < 1e-15 else covariance / (std_i * std_j)}


def glcm_distance(extent: float) -> int:
    """Pixel distance of the co-occurring pairs: 1 % of the region's extent (the object's
    diameter, or the image diagonal for the background), at least 1, as in the lab's script."""
    return max(1, int(0.01 * extent)) if np.isfinite(extent) else 1


def region_texture(grey: np.ndarray, region: np.ndarray, distance: int, levels: int = 256) -> dict[str, float]:
    """GLCM_PROPERTIES of one region of an (H, W) uint8 grey image: the mean over DIRECTIONS (0°
    and 90°) at ``distance`` pixels. (The lab's script sums the two directions: twice these
    values.) NaN when the region has no pair of pixels that far apart."""
    per_direction = [glcm_properties(co_occurrence(grey, region, dx * distance, dy * distance, levels))
                     for dx, dy in DIRECTIONS]
    return {name: float(np.mean([p[name] for p in per_direction])) for name in GLCM_PROPERTIES}


def data_features(image: np.ndarray, truth: np.ndarray, diameter: float | None = None) -> dict[str, float]:
    """All of DATA_FEATURES of an (H, W, 3) uint8 RGB (or (H, W) grey) image and its (H, W)
    bool ground truth. Object features are NaN for an empty ground truth, background ones for
    a ground truth that covers the whole image. ``diameter``: the ground truth's
    (core.analysis.prompt_features.mask_diameter), if already known."""
    truth = np.asarray(truth, dtype=bool)
    grey = grey_levels(image)
    diameter = mask_diameter(truth) if diameter is None else diameter
    features: dict[str, float] = {"mask_share": mask_share(truth), "components": connected_components(truth),
                                  "edge_density": edge_density(grey, truth)}
    regions = (("object", truth, diameter), ("background", ~truth, image_diagonal(truth.shape)))
    for name, region, extent in regions:
        texture = region_texture(grey, region, glcm_distance(extent))
        features.update({f"glcm_{name}_{key}": value for key, value in texture.items()})
    return features
