"""Read ground-truth masks as (H, W) bool, never resizing them.

Accepted: image files (PNG, BMP, TIFF, JPEG) or .npy arrays holding two values: 0/1, 0/255,
bool, or any two numbers, of which the larger is the foreground (one value: all background if
it is 0 or less, else all foreground). An RGB(A) mask: the colour channels that vary must
mark the same region, which is the foreground (constant channels and alpha are ignored). Refused with :class:`MaskValueError`: more than two
values (a label map with several classes, or a soft mask), colour channels that mark different
regions, NaN or infinite values. JPEG files are lossy: their ringing around 0/255 edges makes
values in between, so a JPEG mask is thresholded at half its maximum instead.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.io.images import ImageReadError, read_array


class MaskSizeError(ValueError):
    """A mask's size differs from its image's; the message names both sizes and the file."""


class MaskValueError(ImageReadError):
    """A mask holds values that do not say foreground/background unambiguously; the message
    names the file, the values found and the fix."""


_FIX = "save a binary mask (0/1 or 0/255, one object) of the image's size"


def _two_valued(channel: np.ndarray, source: str) -> np.ndarray:
    """(H, W) foreground of a channel that holds at most two values (the larger is foreground)."""
    low, high = channel.min(), channel.max()
    if channel.dtype.kind == "f" and not (np.isfinite(low) and np.isfinite(high)):
        raise MaskValueError(f"{source} contains NaN or infinite values; {_FIX}")
    if low == high:
        return np.full(channel.shape, bool(high > 0))
    between = (channel != low) & (channel != high)
    if between.any():
        shown = np.unique(np.concatenate([[low, high], channel[between][:100_000]]))
        values = ", ".join(f"{v:g}" for v in shown[:6]) + (", …" if len(shown) > 6 else "")
        raise MaskValueError(f"{source} holds more than two values ({values}): it looks like a label map with "
                             f"several classes or a soft mask, not one object; {_FIX}")
    return channel == high


def binarise(array: np.ndarray, source: str = "mask", lossy: bool = False) -> np.ndarray:
    """(H, W) or (H, W, C) mask array of any dtype → (H, W) bool (see module docstring).

    lossy: the values come from a JPEG; threshold at half the maximum instead of insisting on
    two values. Raises :class:`MaskValueError` or :class:`core.io.images.ImageReadError`.
    """
    array = np.asarray(array)
    if array.ndim == 3 and 1 <= array.shape[2] <= 4:
        array = array[..., :3] if array.shape[2] >= 3 else array[..., :1]
    elif array.ndim != 2:
        raise ImageReadError(f"{source} has shape {array.shape}; a mask must be (H, W) or (H, W, 1..4)")
    if array.dtype == bool:
        return array.any(axis=2) if array.ndim == 3 else array
    if array.dtype.kind not in "iuf" or array.size == 0:
        raise ImageReadError(f"{source} has dtype {array.dtype} and shape {array.shape}; {_FIX}")
    if lossy:
        peak = float(array.max())
        if not np.isfinite(peak):
            raise MaskValueError(f"{source} contains NaN or infinite values; {_FIX}")
        on = array > (0.5 if peak <= 1 else peak / 2)
        return on.any(axis=2) if on.ndim == 3 else on
    if array.ndim == 2:
        return _two_valued(array, source)
    channels = [array[..., c] for c in range(array.shape[2]) if array[..., c].min() != array[..., c].max()]
    if not channels:  # every channel constant: all on or all off
        return np.full(array.shape[:2], bool(array.max() > 0))
    masks = [_two_valued(channel, source) for channel in channels]
    if any((m != masks[0]).any() for m in masks[1:]):
        raise MaskValueError(f"{source} is a colour image whose channels mark different regions (a colour-coded "
                             f"label map?); {_FIX}")
    return masks[0]


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
    mask = binarise(read_array(path), str(path), lossy=path.suffix.lower() in (".jpg", ".jpeg"))
    if image_size is not None:
        check_mask_size(mask, image_size, str(path))
    return mask


def encode_mask_png(mask: np.ndarray) -> bytes:
    """(H, W) bool → single-channel 0/255 PNG bytes (the PointPrompt mask format)."""
    ok, data = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise ValueError(f"cannot encode a mask of shape {mask.shape} as PNG")
    return data.tobytes()
