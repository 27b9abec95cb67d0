"""Score maps some strategies rank pixels by, and the greedy peak picking they share.

* :func:`local_entropy` — SAMAug's "max entropy" cue: per pixel, the Shannon entropy (bits) of the
  grey levels (16 bins) of the region's own pixels in a square window around it. Counting only
  the region's pixels keeps the object's outline (object against background) from scoring high.
* :func:`spectral_residual_saliency` — the saliency cue. OpenCV's saliency module
  (``cv2.saliency.StaticSaliencySpectralResidual``) is in opencv-contrib only, not in the
  opencv-python-headless we ship (checked on 5.0.0: there is no ``cv2.saliency``), so this is the
  same method, Hou & Zhang (CVPR 2007), in numpy: the grey image at 64×64, the log amplitude
  spectrum minus its 3×3 mean (the spectral residual) recombined with the phase, the squared
  magnitude of the inverse FFT, Gaussian-blurred (σ = 64/24 px at that size), resized back to the
  image, scaled to [0, 1]. (OpenCV's own blurs with a fixed 5×5 kernel; the maps agree in shape,
  not bit for bit.)
* :func:`greedy_peaks` — the n highest-scoring pixels of a region at least a spacing apart.

Images are (H, W, 3) uint8 RGB; maps are (H, W) float; points are (x, y).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.analysis.point_regions import region_points

ENTROPY_BINS = 16


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey levels of an (H, W, 3) uint8 RGB image."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def local_entropy(grey_image: np.ndarray, region: np.ndarray, window: int) -> np.ndarray:
    """(H, W) float64 entropy in bits (0 .. 4) of the 16-bin grey histogram of the ``region``
    pixels in the ``window`` × ``window`` square centred on each pixel; 0 outside the region."""
    window = max(1, int(window)) | 1
    inside = region.astype(np.float64)
    count = cv2.boxFilter(inside, -1, (window, window), normalize=False, borderType=cv2.BORDER_CONSTANT)
    levels = grey_image.astype(np.int64) * ENTROPY_BINS // 256
    entropy = np.zeros(region.shape, dtype=np.float64)
    for level in range(ENTROPY_BINS):
        hits = cv2.boxFilter(inside * (levels == level), -1, (window, window), normalize=False,
                             borderType=cv2.BORDER_CONSTANT)
        p = np.divide(hits, count, out=np.zeros_like(hits), where=count > 0)
        entropy -= np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.where(region, entropy, 0.0)


def spectral_residual_saliency(image: np.ndarray, size: int = 64) -> np.ndarray:
    """(H, W) float64 spectral-residual saliency of an (H, W, 3) uint8 RGB image, in [0, 1]."""
    small = cv2.resize(grey(image), (size, size), interpolation=cv2.INTER_AREA).astype(np.float64)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REPLICATE)
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency, (0, 0), sigmaX=size / 24)
    height, width = image.shape[:2]
    saliency = cv2.resize(saliency, (width, height), interpolation=cv2.INTER_LINEAR)
    low, high = float(saliency.min()), float(saliency.max())
    return (saliency - low) / (high - low) if high > low else np.zeros((height, width))


def greedy_peaks(score: np.ndarray, region: np.ndarray, n: int, spacing: float) -> np.ndarray:
    """Up to ``n`` (x, y) pixels of ``region``, (k, 2) int64, best score first.

    Repeatedly takes the highest-scoring pixel still available (ties: first in row-major order)
    and makes every pixel closer than ``spacing`` unavailable. When that runs out before ``n``,
    the rest are the best-scoring region pixels not yet taken, whatever their distance.
    """
    candidates = region_points(region)
    values = score[candidates[:, 1], candidates[:, 0]].astype(np.float64)
    available = np.ones(len(candidates), dtype=bool)
    taken: list[int] = []
    while len(taken) < n and available.any():
        best = int(np.flatnonzero(available)[np.argmax(values[available])])
        taken.append(best)
        near = ((candidates - candidates[best]) ** 2).sum(1) < spacing**2
        available &= ~near
        available[best] = False
    if len(taken) < n:
        rest = np.setdiff1d(np.arange(len(candidates)), taken)
        rest = rest[np.argsort(-values[rest], kind="stable")]
        taken.extend(rest[: n - len(taken)].tolist())
    return candidates[np.array(taken, dtype=np.int64)].reshape(-1, 2)
