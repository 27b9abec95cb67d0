"""The point markers on the canvas: every point's numbered disc, drawn by one scene item.

Each marker (a white-ringed disc, green for inclusion and red for exclusion, its order number
above to the right) is rendered once per number, label and zoom into a small pixmap, a sprite,
and each repaint copies the sprites unscaled. Markers used to be two scene items each (disc and
number) with device caches: the view's work per item (index lookup, transform, cache lookup)
came to ~0.04 ms a point on the repaint after a click, cold after SAM's decode — 0.8 of that
1.7 ms repaint with 20 points. One item pays that once.

Coordinates: scene = image pixels (x, y), origin top-left; a marker's centre is a scene point
(the point (x, y) is drawn at its pixel's centre, (x + 0.5, y + 0.5)). A sprite is placed at
the nearest device pixel (≤ 0.5 screen px off the exact position).
"""

from __future__ import annotations

import functools
import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem

INCLUSION_COLOUR = QColor(40, 220, 60)
EXCLUSION_COLOUR = QColor(230, 40, 40)


@functools.lru_cache(maxsize=4)
def marker_style(radius: float) -> tuple[QPen, QFont, tuple[QBrush, QBrush], QFontMetricsF]:
    """How markers of ``radius`` (scene px) are drawn: the white ring, the number's font, the
    fills (exclusion, inclusion) and the font's metrics."""
    font = QFont()
    font.setPixelSize(max(6, int(radius * 2.2)))
    return (QPen(Qt.GlobalColor.white, radius / 3), font, (QBrush(EXCLUSION_COLOUR), QBrush(INCLUSION_COLOUR)),
            QFontMetricsF(font))


@functools.lru_cache(maxsize=1024)
def marker_extent(number: int, radius: float) -> tuple[float, float, float, float]:
    """(left, top, right, bottom): the scene-px box a marker covers, relative to its centre:
    the ring and the number, whose top-left sits ``radius`` right of the point's pixel and 2.5
    radii above it."""
    pen, _, _, metrics = marker_style(radius)
    ring = radius + pen.widthF() / 2
    text = QRectF(radius - 0.5, -2.5 * radius - 0.5, metrics.horizontalAdvance(str(number)) + 1, metrics.height())
    box = QRectF(-ring, -ring, 2 * ring, 2 * ring).united(text)
    return box.left(), box.top(), box.right(), box.bottom()


def render_marker(number: int, label: int, radius: float, scale: float,
                  pixel_ratio: float = 1.0) -> tuple[QPixmap, int, int]:
    """The sprite of marker ``number`` (label 1 inclusion, 0 exclusion) at ``scale`` device px
    per scene px; returns it and the (x, y) device-px offset of the marker's centre within it."""
    pen, font, fills, metrics = marker_style(radius)
    box_left, box_top, box_right, box_bottom = marker_extent(number, radius)
    left, top = math.floor(box_left * scale) - 1, math.floor(box_top * scale) - 1
    width, height = math.ceil(box_right * scale) + 2 - left, math.ceil(box_bottom * scale) + 2 - top
    sprite = QPixmap(max(1, round(width * pixel_ratio)), max(1, round(height * pixel_ratio)))
    sprite.setDevicePixelRatio(pixel_ratio)
    sprite.fill(Qt.GlobalColor.transparent)
    painter = QPainter(sprite)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(-left, -top)
    painter.scale(scale, scale)
    painter.setPen(pen)
    painter.setBrush(fills[label == 1])
    painter.drawEllipse(QPointF(0, 0), radius, radius)
    painter.setFont(font)
    painter.setPen(Qt.GlobalColor.white)
    painter.drawText(QPointF(radius - 0.5, -2.5 * radius - 0.5 + metrics.ascent()), str(number))
    painter.end()
    return sprite, -left, -top


REACH = QRectF(-1e5, -1e5, 2e5, 2e5)  # scene px: the item's bounding rect (see PointMarkers)


class PointMarkers(QGraphicsItem):
    """All markers of the shown points, numbered from 1 in order; changes repaint only the
    markers they touch. Its bounding rect is fixed and larger than any image (REACH): a rect that
    changed with the image made Qt repaint the whole item on its next change, the first click."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # exposedRect in paint
        self.radius = 3.0
        self._centres: list[tuple[float, float, int]] = []  # (x, y, label) per marker, scene px
        self._boxes: list[tuple[float, float, float, float]] = []  # each marker's (left, top, right, bottom), scene px
        self._sprites: dict[tuple[int, int], tuple[QPixmap, int, int]] = {}  # (number, label) → render_marker's
        self._sprite_scale = (0.0, 0.0, 0.0)  # (radius, scale, pixel ratio) of the sprites held
        self.rendered = 0  # sprites rendered so far (see prepare)

    # --- what is shown ---------------------------------------------------------------------
    def set_radius(self, radius: float) -> None:
        """The markers' radius, scene px (set while none are shown)."""
        self.radius = radius

    @property
    def centres(self) -> list[tuple[float, float, int]]:
        """(x, y, label) of each marker, scene px, in number order (a copy)."""
        return list(self._centres)

    def set_centres(self, centres: list[tuple[float, float, int]], keep: int = 0) -> None:
        """Show these markers; the first ``keep`` are unchanged, so only the rest are repainted."""
        for number in range(keep + 1, max(len(centres), len(self._centres)) + 1):
            if number <= len(self._centres):
                self.update(self.marker_rect(number))
            if number <= len(centres):
                self.update(self._rect_at(number, *centres[number - 1][:2]))
        del self._boxes[keep:]
        for number, (x, y, _) in enumerate(centres[keep:], start=keep + 1):
            left, top, right, bottom = marker_extent(number, self.radius)
            self._boxes.append((x + left, y + top, x + right, y + bottom))
        self._centres = list(centres)

    def move_marker(self, index: int, x: float, y: float) -> None:
        """Show marker ``index`` (from 0) centred on scene point (x, y) (a point being dragged)."""
        self.update(self.marker_rect(index + 1))
        left, top, right, bottom = marker_extent(index + 1, self.radius)
        self._centres[index] = (x, y, self._centres[index][2])
        self._boxes[index] = (x + left, y + top, x + right, y + bottom)
        self.update(self.marker_rect(index + 1))

    def marker_rect(self, number: int) -> QRectF:
        """The scene rect marker ``number`` (from 1) covers."""
        x, y, _ = self._centres[number - 1]
        return self._rect_at(number, x, y)

    def _rect_at(self, number: int, x: float, y: float) -> QRectF:
        left, top, right, bottom = marker_extent(number, self.radius)
        return QRectF(x + left - 1, y + top - 1, right - left + 2, bottom - top + 2)

    # --- sprites -----------------------------------------------------------------------------
    def prepare(self, number: int, scale: float, pixel_ratio: float = 1.0) -> None:
        """Render marker ``number``'s sprites (both labels) ahead, while the canvas is idle, so
        that the click that adds it only copies them (rendering one took ~0.13 ms on its path)."""
        self._use_scale(scale, pixel_ratio)
        for label in (0, 1):
            self._sprite(number, label)

    def _use_scale(self, scale: float, pixel_ratio: float) -> None:
        """Hold sprites for this zoom and pixel ratio: another zoom or size drops the old ones."""
        key = (self.radius, scale, pixel_ratio)
        if key != self._sprite_scale:
            self._sprites.clear()
            self._sprite_scale = key

    def _sprite(self, number: int, label: int) -> tuple[QPixmap, int, int]:
        """Marker ``number``'s sprite at the scale :meth:`_use_scale` set, rendered if new."""
        sprite = self._sprites.get((number, label))
        if sprite is None:
            _, scale, pixel_ratio = self._sprite_scale
            sprite = self._sprites[number, label] = render_marker(number, label, self.radius, scale, pixel_ratio)
            self.rendered += 1
        return sprite

    # --- QGraphicsItem -------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        return REACH

    def paint(self, painter: QPainter, option, widget=None) -> None:
        """Copy the sprites of the markers in the exposed rect, unscaled, at device pixels.

        Runs on each repaint, cold after SAM's decode on a click's: only float arithmetic and
        dict lookups per marker (what a marker covers is worked out when it is set)."""
        if not self._centres:
            return
        transform = painter.worldTransform()  # scene → device: a zoom and a shift
        scale, dx, dy = transform.m11(), transform.dx(), transform.dy()
        ratio = 1.0 if widget is None else widget.devicePixelRatioF()
        self._use_scale(scale, ratio)
        exposed = option.exposedRect
        left, top, right, bottom = exposed.left() - 1, exposed.top() - 1, exposed.right() + 1, exposed.bottom() + 1
        sprites = self._sprites
        painter.resetTransform()
        for number, ((x, y, label), box) in enumerate(zip(self._centres, self._boxes), start=1):
            if box[2] < left or box[0] > right or box[3] < top or box[1] > bottom:
                continue
            sprite = sprites.get((number, label)) or self._sprite(number, label)
            painter.drawPixmap(round(scale * x + dx) - sprite[1], round(scale * y + dy) - sprite[2], sprite[0])
        painter.setWorldTransform(transform)
