"""Read ground-truth masks as (H, W) bool, never resizing them.

Accepted: image files (PNG, BMP, TIFF, JPEG) or .npy arrays holding 0/1, 0/255, bool or float
values; an RGB(A) mask counts a pixel as foreground when any colour channel is on. A pixel is
on when its value exceeds half the array's maximum (0/1 masks: > 0.5; 0/255: > 127.5), which
also absorbs JPEG ringing around 0/255 edges.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.io.images import ImageReadError, read_array


class MaskSizeError(ValueError):
    """A mask's size differs from its image's; the message names both sizes and the file."""


def binarise(array: np.ndarray, source: str = "mask") -> np.ndarray:
    """(H, W) or (H, W, C) mask array of any dtype → (H, W) bool (see module docstring)."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[..., :3].max(axis=2) if array.shape[2] >= 3 else array[..., 0]
    if array.ndim != 2:
        raise ImageReadError(f"{source} has shape {array.shape}; a mask must be (H, W) or (H, W, C)")
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ImageReadError(f"{source} has dtype {array.dtype}; a mask must hold numbers or booleans")
    peak = float(array.max()) if array.size else 0.0
    if not np.isfinite(peak):
        raise ImageReadError(f"{source} contains NaN or infinite values")
    return array > (0.5 if peak <= 1 else peak / 2)


def check_mask_size(mask: np.ndarray, image_size: tuple[int, int], source: str = "mask") -> np.ndarray:
    """Raise :class:`MaskSizeError` unless ``mask.shape[:2] == image_size`` (H, W)."""
    if tuple(mask.shape[:2]) != tuple(image_size):
        mask_h, mask_w = mask.shape[:2]
        image_h, image_w = image_size
        raise MaskSizeError(
            f"{source} is {mask_w}×{mask_h} pixels but its image is {image_w}×{image_h} (width×height). "
            "Masks are never resized silently: export the mask at the image's size."
        )
    return mask


def read_mask(path: str | Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask file as (H, W) bool; with ``image_size`` (H, W), insist that it matches."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"Mask not found: {path}")
    mask = binarise(read_array(path), str(path))
    if image_size is not None:
        check_mask_size(mask, image_size, str(path))
    return mask


def encode_mask_png(mask: np.ndarray) -> bytes:
    """(H, W) bool → single-channel 0/255 PNG bytes (the PointPrompt mask format)."""
    ok, data = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise ValueError(f"cannot encode a mask of shape {mask.shape} as PNG")
    return data.tobytes()
