"""Read any image a study may contain and return what SAM expects: (H, W, 3) uint8 RGB.

Files: PNG, JPEG, TIFF, BMP (OpenCV, with EXIF orientation applied) and .npy arrays.
Conversions, in order: greyscale (H, W) or (H, W, 1) → three equal channels; grey+alpha and
RGBA → the colour channels (alpha dropped); 8-bit kept; other integer depths (16-bit TIFF or
PNG) stretched from their own min..max to 0..255; floats in [0, 1] scaled by 255, in [-1, 1]
mapped by (v + 1)·127.5, any other range stretched min..max; bool → 0/255.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")
MAX_PIXELS = 250_000_000  # 250 megapixels: beyond this one mask alone would take 250 MB


class ImageReadError(Exception):
    """An image could not be read or understood; the message names the file and the fix."""


def _stretch(array: np.ndarray) -> np.ndarray:
    low, high = float(array.min()), float(array.max())
    if high == low:
        return np.zeros(array.shape, np.uint8)
    return np.round((array.astype(np.float64) - low) * (255.0 / (high - low))).astype(np.uint8)


def to_uint8(array: np.ndarray, source: str = "array") -> np.ndarray:
    """Map an image array of any dtype to uint8 by the rules in the module docstring."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        return _stretch(array)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageReadError(f"{source} contains NaN or infinite values; replace them before opening it")
        low, high = float(array.min()), float(array.max())
        if low >= 0 and high <= 1:
            return np.round(array * 255).astype(np.uint8)
        if low >= -1 and high <= 1:
            return np.round((array + 1) * 127.5).astype(np.uint8)
        return _stretch(array)
    raise ImageReadError(f"{source} has dtype {array.dtype}, which is not an image; expected integers or floats")


def to_rgb(array: np.ndarray, source: str = "array") -> np.ndarray:
    """Normalise an image array of shape (H, W), (H, W, 1..4) to (H, W, 3) uint8 RGB.

    Channel order of a 3- or 4-channel input is taken to be RGB(A) already.
    """
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(to_uint8(array, source)[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 2:
        array = np.repeat(to_uint8(array[..., 0], source)[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = to_uint8(array[..., :3], source)
    else:
        raise ImageReadError(
            f"{source} has shape {array.shape}; expected (H, W) greyscale or (H, W, 3/4) colour"
        )
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageReadError(f"{source} is only {array.shape[1]}×{array.shape[0]} pixels; SAM needs a real image")
    return np.ascontiguousarray(array)


def read_array(path: Path) -> np.ndarray:
    """Raw pixel array of an image file (BGR order from OpenCV converted to RGB), any depth."""
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ImageReadError(f"Cannot read {path} as a numpy array ({error}); is it a .npy file?") from error
        return array
    try:
        data = np.fromfile(path, dtype=np.uint8)  # imdecode handles non-ASCII paths
    except OSError as error:
        raise ImageReadError(f"Cannot open {path}: {error.strerror or error}") from error
    if data.size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes); replace it with a real image file")
    array = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if array is None:
        raise ImageReadError(
            f"Cannot decode {path}: the file is damaged or not an image OpenCV reads "
            f"(PNG, JPEG, TIFF, BMP); convert it to PNG"
        )
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return array


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB.

    Raises :class:`ImageReadError` naming ``path`` when it is missing, unreadable, of an
    unsupported shape or type, or larger than ``MAX_PIXELS``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"Image not found: {path}")
    array = read_array(path)
    if array.ndim >= 2 and array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageReadError(
            f"{path} is {array.shape[1]}×{array.shape[0]} pixels, over the {MAX_PIXELS // 1_000_000} MP limit; "
            "downscale it first"
        )
    return to_rgb(array, str(path))
