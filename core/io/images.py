"""Read any image a study may contain and return what SAM expects: (H, W, 3) uint8 RGB.

Files: PNG, JPEG, TIFF, BMP (OpenCV, with EXIF orientation applied) and .npy arrays.
Conversions, in order: greyscale (H, W) or (H, W, 1) → three equal channels; grey+alpha and
RGBA → the colour channels (alpha dropped); 8-bit kept; other integer depths (16-bit TIFF or
PNG) stretched from their own min..max to 0..255; floats in [0, 1] scaled by 255, in [-1, 1]
mapped by (v + 1)·127.5, any other range stretched min..max; bool → 0/255.

Limits, checked before anything is decoded: a file over ``MAX_FILE_BYTES`` is not read, and an
image whose header (PNG, JPEG, TIFF, BMP: read by Pillow's format plugins, which parse only the
header; a .npy file's shape) claims more than ``MAX_PIXELS`` pixels is refused. A file with no
known header, a damaged header, or a JPEG whose last scan has no end marker (truncated) raises
:class:`ImageReadError` naming the file and the fix.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, TiffImagePlugin

from core.io.safe_npy import NpyReadError, read_npy, read_npy_header

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy")
MAX_PIXELS = 250_000_000  # 250 megapixels: beyond this one mask alone would take 250 MB
MAX_FILE_BYTES = 4 * 1024**3  # 4 GiB: a 250 MP 16-bit RGB TIFF, uncompressed, is 1.5 GB
_HEADER_READERS = (  # magic bytes → the Pillow class that parses that format's header (lazily: no pixels)
    (b"\x89PNG\r\n\x1a\n", PngImagePlugin.PngImageFile), (b"\xff\xd8\xff", JpegImagePlugin.JpegImageFile),
    (b"II*\x00", TiffImagePlugin.TiffImageFile), (b"MM\x00*", TiffImagePlugin.TiffImageFile),
    (b"II+\x00", TiffImagePlugin.TiffImageFile), (b"MM\x00+", TiffImagePlugin.TiffImageFile),
    (b"BM", BmpImagePlugin.BmpImageFile),
)


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
    if array.ndim in (2, 3) and (array.shape[0] < 2 or array.shape[1] < 2):
        raise ImageReadError(f"{source} is only {array.shape[1]}×{array.shape[0]} pixels; SAM needs a real image")
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
    return np.ascontiguousarray(array)


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"{path} is {width}×{height} pixels, over the {MAX_PIXELS // 1_000_000} MP limit; downscale it first"
        )


def header_size(path: Path, data: bytes) -> tuple[int, int]:
    """(width, height) from the header of an image file's bytes, decoding no pixels.

    Pillow's format classes are used directly, not ``PIL.Image.open``: its decompression-bomb
    check would refuse images above its own limit (179 MP), below ours.
    """
    for magic, reader in _HEADER_READERS:
        if data.startswith(magic):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return reader(io.BytesIO(data)).size
            except (SyntaxError, OSError, ValueError, EOFError, IndexError, KeyError, TypeError,
                    struct.error) as error:
                raise ImageReadError(f"Cannot read {path}: its header is damaged ({error}); the file is "
                                     "truncated or corrupt: get a complete copy or convert it to PNG") from error
    raise ImageReadError(f"{path} is not a PNG, JPEG, TIFF or BMP file (it starts with {data[:8]!r}); "
                         "convert it to PNG")


def _read_npy_image(path: Path) -> np.ndarray:
    try:
        shape, _, _ = read_npy_header(path)
        if len(shape) >= 2:
            _check_pixels(path, shape[1], shape[0])
        return read_npy(path, allow_objects=False)
    except NpyReadError as error:
        raise ImageReadError(f"{error}. An image .npy must be one numeric (H, W) or (H, W, C) array") from error


def read_array(path: Path) -> np.ndarray:
    """Raw pixel array of an image file (BGR order from OpenCV converted to RGB), any depth.

    Sizes are checked before decoding (see the module docstring)."""
    if path.suffix.lower() == ".npy":
        return _read_npy_image(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageReadError(f"{path} is {size / 1024**3:.1f} GiB, over the {MAX_FILE_BYTES // 1024**3} GiB "
                                 "limit for an image file; downscale or compress it")
        data = np.fromfile(path, dtype=np.uint8)  # imdecode handles non-ASCII paths
    except OSError as error:
        raise ImageReadError(f"Cannot open {path}: {error.strerror or error}") from error
    if data.size == 0:
        raise ImageReadError(f"{path} is empty (0 bytes); replace it with a real image file")
    raw = data.tobytes()
    _check_pixels(path, *header_size(path, raw))
    if raw.startswith(b"\xff\xd8") and raw.rfind(b"\xff\xd9") < raw.rfind(b"\xff\xda"):
        raise ImageReadError(f"{path} is a truncated JPEG (its last scan has no end marker); get a complete copy")
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
    return to_rgb(read_array(path), str(path))
