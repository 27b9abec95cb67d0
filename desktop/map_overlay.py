"""Gradient-map overlays as QImages, drawn on any thread, in perceptual colormaps.

A map is an (H, W) float array in [0, 1] (core.gradients.sam_maps), aligned pixel for pixel
with the image: (x, y) = (column, row). It is drawn as an 8-bit indexed image whose index is the
map's 8-bit value (core.io.map_png.map_to_bytes: what the session saves) and whose 256-entry
colour table is a perceptual colormap (pyqtgraph's bundled viridis, magma, inferno, plasma,
cividis) at the chosen opacity (fading out for low values), then converted to premultiplied ARGB32 (the raster engine's
own format), as desktop.mask_overlay draws masks. Only QImage is used, so the inference worker
draws it and the window only wraps it in a pixmap.
"""

from __future__ import annotations

import functools
import threading
from typing import NamedTuple

import numpy as np
from PySide6.QtGui import QImage, qRgba

from core.io.map_png import map_to_bytes

COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis")
DEFAULT_MAP = "intervention_total"
_TABLE_LOCK = threading.Lock()  # pyqtgraph's colormap cache is read from the worker and the UI thread


class MapStyle(NamedTuple):
    """How the map overlay is drawn: ``name``: which map (a key of core.gradients.sam_maps.MAPS);
    ``colormap``: one of COLORMAPS; ``alpha``: opacity 0–255."""

    name: str = DEFAULT_MAP
    colormap: str = "viridis"
    alpha: int = 150


@functools.lru_cache(maxsize=len(COLORMAPS))
def colormap_table(colormap: str) -> np.ndarray:
    """(256, 3) uint8 RGB lookup table of a perceptual colormap (index = 8-bit map value)."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; expected one of {COLORMAPS}")
    import pyqtgraph

    with _TABLE_LOCK:
        table = pyqtgraph.colormap.get(colormap).getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.ascontiguousarray(table[:, :3], dtype=np.uint8)


FADE_BELOW = 1 / 3  # map values under this fade towards transparent, so the photo shows where the map is low


def colour_table(colormap: str, alpha: int) -> list[int]:
    """The 256 ARGB entries (``qRgba``) of ``colormap``: opacity ``alpha`` (0–255) from the value
    FADE_BELOW up, fading linearly to transparent at 0 (a map of zeros hides nothing)."""
    alpha = int(np.clip(alpha, 0, 255))
    fade = np.minimum(1.0, np.arange(256) / 255 / FADE_BELOW)
    return [qRgba(int(r), int(g), int(b), int(round(alpha * f)))
            for (r, g, b), f in zip(colormap_table(colormap), fade)]


def map_to_qimage(values: np.ndarray, colormap: str, alpha: int) -> QImage:
    """(H, W) float map in [0, 1] → a premultiplied ARGB32 QImage (W × H) that owns its pixels:
    the map's 8-bit value looked up in ``colormap`` at opacity ``alpha``."""
    index = np.ascontiguousarray(map_to_bytes(values))
    height, width = index.shape
    image = QImage(index.data, width, height, width, QImage.Format.Format_Indexed8)
    image.setColorTable(colour_table(colormap, alpha))
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)  # a copy: ``index`` may go


def map_overlay(maps: dict[str, np.ndarray], style: MapStyle) -> QImage | None:
    """The overlay of map ``style.name`` from ``maps`` (name → (H, W) float), or None when the
    timestep has no such map (e.g. ``contrast_previous`` at a round's first timestep)."""
    values = maps.get(style.name)
    return None if values is None else map_to_qimage(values, style.colormap, style.alpha)


def colour_bar(colormap: str, width: int, height: int) -> QImage:
    """A horizontal colour bar, 0 at the left and 1 at the right, ``width`` × ``height`` RGB888."""
    table = colormap_table(colormap)
    columns = table[np.rint(np.linspace(0, 255, max(width, 1))).astype(int)]
    pixels = np.ascontiguousarray(np.broadcast_to(columns[None], (max(height, 1), len(columns), 3)))
    return QImage(pixels.data, pixels.shape[1], pixels.shape[0], 3 * pixels.shape[1],
                  QImage.Format.Format_RGB888).copy()
