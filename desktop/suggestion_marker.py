"""The suggested next click on the canvas: a dashed ring with a "?" in the colour of the point
it suggests (green inclusion, red exclusion), on a dark halo so it reads on any map.

Unlike the point markers it is drawn at a fixed screen size whatever the zoom
(``ItemIgnoresTransformations``) and never takes clicks. Its position is a scene point:
the suggested pixel (x, y) is drawn at its centre, (x + 0.5, y + 0.5).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from desktop.point_markers import EXCLUSION_COLOUR, INCLUSION_COLOUR

RING_RADIUS_PX = 14  # screen pixels


class SuggestionMarker(QGraphicsItem):
    """Hidden until :meth:`show_at`; ``label`` 1 inclusion, 0 exclusion."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.label = 1
        self.pixel: tuple[int, int] | None = None  # the suggested (x, y), or None when hidden
        self.setVisible(False)

    def show_at(self, x: int, y: int, label: int) -> None:
        """Mark image pixel (x, y) as the suggested click with ``label``."""
        self.prepareGeometryChange()
        self.label, self.pixel = int(label), (int(x), int(y))
        self.setPos(QPointF(x + 0.5, y + 0.5))
        self.setVisible(True)
        self.update()

    def clear(self) -> None:
        self.pixel = None
        self.setVisible(False)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        reach = RING_RADIUS_PX + 4
        return QRectF(-reach, -reach, 2 * reach, 2 * reach)

    def paint(self, painter: QPainter, _option, _widget=None) -> None:
        colour = QColor(INCLUSION_COLOUR if self.label == 1 else EXCLUSION_COLOUR)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 170), 5))
        painter.drawEllipse(QPointF(0, 0), RING_RADIUS_PX, RING_RADIUS_PX)
        dashed = QPen(colour, 2.5, Qt.PenStyle.DashLine)
        dashed.setDashPattern([3, 2])
        painter.setPen(dashed)
        painter.drawEllipse(QPointF(0, 0), RING_RADIUS_PX, RING_RADIUS_PX)
        font = QFont()
        font.setPixelSize(17)
        font.setBold(True)
        painter.setFont(font)
        box = QRectF(-RING_RADIUS_PX, -RING_RADIUS_PX, 2 * RING_RADIUS_PX, 2 * RING_RADIUS_PX)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 1))
        painter.drawText(box.translated(1, 1), Qt.AlignmentFlag.AlignCenter, "?")
        painter.setPen(QPen(colour, 1))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "?")
