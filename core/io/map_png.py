"""Explanation and uncertainty maps as 8-bit single-channel PNGs (value × 255, rounded).

A map is an (H, W) float array in [0, 1] (core.gradients.sam_maps); its PNG holds
``rint(value · 255)`` as uint8, so reading it back gives the map to within 1/510. The app
draws its overlays from the same 8-bit values (desktop.map_overlay), so what is saved is what
was shown.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def map_to_bytes(values: np.ndarray) -> np.ndarray:
    """(H, W) float map in [0, 1] → (H, W) uint8 ``rint(value · 255)`` (NaN counts as 0)."""
    clipped = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0), 0.0, 1.0)
    return np.rint(clipped * 255.0).astype(np.uint8)


def encode_map_png(values: np.ndarray) -> bytes:
    """(H, W) float map in [0, 1] → PNG bytes of its 8-bit values (single channel)."""
    ok, encoded = cv2.imencode(".png", map_to_bytes(values))
    if not ok:
        raise ValueError(f"cannot encode a map of shape {np.shape(values)} as PNG")
    return encoded.tobytes()


def decode_map_png(data: bytes, source: str = "map PNG") -> np.ndarray:
    """PNG bytes written by :func:`encode_map_png` → (H, W) float32 in [0, 1].

    Raises ValueError naming ``source`` when the bytes are not a readable greyscale PNG."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE) if data else None
    if decoded is None:
        raise ValueError(f"{source} is not a readable PNG map")
    return decoded.astype(np.float32) / 255.0


def read_map_png(path: str | Path) -> np.ndarray:
    """A map PNG written by :func:`encode_map_png` → (H, W) float32 in [0, 1].

    Raises FileNotFoundError naming the file when it is missing or unreadable."""
    data = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if data is None:
        raise FileNotFoundError(f"{path} is missing or is not a readable PNG map")
    return data.astype(np.float32) / 255.0
