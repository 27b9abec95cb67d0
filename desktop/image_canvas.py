"""The image view: the image, a mask overlay and numbered point markers.

Scene coordinates equal image pixel coordinates: (x, y) = (column, row), origin top-left.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

INCLUSION_COLOUR = QColor(40, 220, 60)
EXCLUSION_COLOUR = QColor(230, 40, 40)
MASK_COLOUR = (30, 144, 255)


def rgb_to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB → a QImage that owns a copy of the pixels."""
    height, width = image.shape[:2]
    data = np.ascontiguousarray(image)
    return QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def mask_to_qimage(mask: np.ndarray, colour: tuple[int, int, int], alpha: int) -> QImage:
    """(H, W) bool → an ARGB QImage, ``colour`` with ``alpha`` where the mask is on."""
    height, width = mask.shape
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[mask] = (*colour, alpha)
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


class ImageCanvas(QGraphicsView):
    """Shows one image; emits ``clicked(x, y, label)`` for clicks inside it (1 left, 0 right)."""

    clicked = Signal(int, int, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self._image_item = QGraphicsPixmapItem()
        self._mask_item = QGraphicsPixmapItem()
        self._mask_item.setZValue(1)
        self.scene().addItem(self._image_item)
        self.scene().addItem(self._mask_item)
        self._markers: list = []
        self._size = (0, 0)  # (H, W)
        self.mask_alpha = 110

    def set_image(self, image: np.ndarray) -> None:
        """Show an (H, W, 3) uint8 image, clearing mask and points, and fit it to the view."""
        self._size = image.shape[:2]
        self._image_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(image)))
        self.set_mask(None)
        self.set_points(np.zeros((0, 2)), np.zeros(0))
        self.scene().setSceneRect(QRectF(0, 0, image.shape[1], image.shape[0]))
        self.fit()

    def set_mask(self, mask: np.ndarray | None) -> None:
        """Overlay an (H, W) bool mask, or clear the overlay with None."""
        if mask is None:
            self._mask_item.setPixmap(QPixmap())
            return
        self._mask_item.setPixmap(QPixmap.fromImage(mask_to_qimage(mask, MASK_COLOUR, self.mask_alpha)))

    def set_points(self, points: np.ndarray, labels: np.ndarray) -> None:
        """Draw points (N, 2) (x, y) with labels (N,), numbered in order from 1."""
        for item in self._markers:
            self.scene().removeItem(item)
        self._markers = []
        radius = max(3.0, 0.012 * max(self._size or (1, 1)))
        font = QFont()
        font.setPixelSize(int(radius * 2.2))
        for number, ((x, y), label) in enumerate(zip(points, labels), start=1):
            colour = INCLUSION_COLOUR if label == 1 else EXCLUSION_COLOUR
            dot = self.scene().addEllipse(x + 0.5 - radius, y + 0.5 - radius, 2 * radius, 2 * radius,
                                          QPen(Qt.GlobalColor.white, radius / 3), QBrush(colour))
            text = self.scene().addSimpleText(str(number), font)
            text.setBrush(QBrush(Qt.GlobalColor.white))
            text.setPos(QPointF(x + radius, y - 2.5 * radius))
            for item in (dot, text):
                item.setZValue(2)
                self._markers.append(item)

    def fit(self) -> None:
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.fit()

    def image_point(self, view_pos) -> tuple[int, int] | None:
        """The integer image pixel (x, y) under a view position, or None outside the image."""
        scene = self.mapToScene(view_pos)
        x, y = int(np.floor(scene.x())), int(np.floor(scene.y()))
        height, width = self._size
        return (x, y) if 0 <= x < width and 0 <= y < height else None

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        point = self.image_point(event.position().toPoint())
        button = event.button()
        if point is not None and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.clicked.emit(point[0], point[1], 1 if button == Qt.MouseButton.LeftButton else 0)
        event.accept()
