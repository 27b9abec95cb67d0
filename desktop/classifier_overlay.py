"""Drawing a classifier's explanation map: over the canvas (in the box of the image it explains)
and over a small preview of the image the classifier saw.

A map is (h, w) float in [0, 1], aligned pixel for pixel with the image the classifier saw; that
image lies in a box (x0, y0, x1, y1) (half-open pixels, (x, y) = (column, row)) of the canvas
image: the whole image, or the padded crop of the SAM mask. The map is drawn as in
desktop.map_overlay (same colormaps, fading, opacity), at most :data:`MAX_SIDE` pixels on its
longer side (explanations come from a coarse grid, so nothing is lost), then stretched to the box.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem

from desktop.map_overlay import map_to_qimage
from desktop.mask_overlay import rgb_to_qimage

MAX_SIDE = 512
# above the SAM gradient map (0.5) and the mask (1: the crop's map lies mostly on the mask, whose
# fill would hide it), under the points (2); the map fades out where it is low, so the mask shows there
Z_VALUE = 1.5


def map_image(values: np.ndarray, colormap: str, alpha: int) -> QImage:
    """(h, w) float map in [0, 1] → its overlay QImage, shrunk to at most MAX_SIDE on the longer side."""
    height, width = values.shape
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        values = cv2.resize(np.asarray(values, np.float32), size, interpolation=cv2.INTER_AREA)
    return map_to_qimage(np.clip(values, 0, 1), colormap, alpha)


class CanvasMapLayer:
    """A pixmap item of its own in a desktop.image_canvas.ImageCanvas's scene (the canvas's own
    map item belongs to the SAM gradient maps), placed over a box of the canvas image."""

    def __init__(self, canvas) -> None:
        self.item = QGraphicsPixmapItem()
        self.item.setZValue(Z_VALUE)
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        canvas.scene().addItem(self.item)
        self.box: tuple[int, int, int, int] | None = None

    def show_map(self, image: QImage | None, box: tuple[int, int, int, int] | None) -> None:
        """Stretch ``image`` over ``box`` (x0, y0, x1, y1) of the canvas image; None clears."""
        if image is None or box is None or image.isNull():
            self.clear()
            return
        x0, y0, x1, y1 = box
        self.box = box
        self.item.setPixmap(QPixmap.fromImage(image))
        self.item.setTransform(QTransform.fromScale((x1 - x0) / image.width(), (y1 - y0) / image.height()))
        self.item.setPos(x0, y0)

    def clear(self) -> None:
        self.box = None
        self.item.setPixmap(QPixmap())

    @property
    def shown(self) -> bool:
        return self.box is not None and self.item.isVisible()

    def set_visible(self, on: bool) -> None:
        self.item.setVisible(on)


def preview_pixmap(image: np.ndarray, overlay: QImage | None, side: int) -> QPixmap:
    """The (H, W, 3) uint8 image scaled to fit ``side`` × ``side`` px, with ``overlay`` stretched over it."""
    picture = rgb_to_qimage(np.ascontiguousarray(image))
    pixmap = QPixmap.fromImage(picture).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation)
    if overlay is not None and not overlay.isNull():
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(0, 0, pixmap.width(), pixmap.height()), overlay)
        painter.end()
    return pixmap
