"""Image corruptions at five severities, in the spirit of ImageNet-C (Hendrycks & Dietterich 2019).

Each takes an (H, W, 3) uint8 RGB image and returns a new one; the same (image, name, level,
seed) gives the same bytes. Parameters per level 1..5 (ImageNet-C's values for 224-pixel
images; spatial ones scale with the image, see ``reference_size``):

==========  ==================================================  ===========================
name        operation                                           levels 1..5
==========  ==================================================  ===========================
noise       x/255 + N(0, σ²) per pixel and channel, clipped      σ = .08 .12 .18 .26 .38
blur        Gaussian blur (OpenCV, reflect-101 border)           σ = 1 2 3 4 6 px at 224 px
contrast    (x − mean) · c + mean, mean over the whole image     c = .4 .3 .2 .1 .05
jpeg        JPEG encode / decode (OpenCV, 4:2:0)                  quality 25 18 15 10 7
==========  ==================================================  ===========================

``reference_size``: the blur σ is multiplied by min(H, W) / reference_size (224), so a corruption
looks the same once the classifier resizes the image; None keeps σ in pixels as listed.
The dataset evaluation corrupts images already resized to the model's input size.
"""

from __future__ import annotations

import cv2
import numpy as np

CORRUPTIONS = ("noise", "blur", "contrast", "jpeg")
LEVELS = 5
PARAMETERS: dict[str, tuple[float, ...]] = {
    "noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    "blur": (1.0, 2.0, 3.0, 4.0, 6.0),
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
    "jpeg": (25, 18, 15, 10, 7),
}


def _check(image: np.ndarray, name: str, level: int) -> None:
    if name not in PARAMETERS:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}")
    if not 1 <= level <= LEVELS:
        raise ValueError(f"corruption level {level} is outside 1..{LEVELS}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")


def gaussian_noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.rint((image / 255.0 + noise) * 255.0), 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    x = image / 255.0
    mean = x.mean()
    return np.clip(np.rint(((x - mean) * factor + mean) * 255.0), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode the image")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def corrupt(image: np.ndarray, name: str, level: int, seed: int = 0, reference_size: int | None = 224) -> np.ndarray:
    """``image`` (H, W, 3) uint8 corrupted by ``name`` at ``level`` (1..5); (H, W, 3) uint8."""
    _check(image, name, level)
    value = PARAMETERS[name][level - 1]
    if name == "noise":
        return gaussian_noise(image, value, seed)
    if name == "blur":
        scale = 1.0 if reference_size is None else min(image.shape[:2]) / reference_size
        return gaussian_blur(image, value * scale)
    if name == "contrast":
        return contrast(image, value)
    return jpeg(image, int(value))


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images of one shape (inf when identical)."""
    error = np.mean((reference.astype(np.float64) - image.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))
