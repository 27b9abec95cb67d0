"""The image view: the image, a mask overlay (fill and/or outline) and numbered, draggable points.

Scene coordinates equal image pixel coordinates: (x, y) = (column, row), origin top-left.

Mouse: left click adds a point of the current left-click label (inclusion unless switched),
right click or Shift+left adds an exclusion point; pressing on a point and releasing without
moving removes it, dragging it moves it. With ``right_click_removes`` (the PointPrompt lab
tool's mapping) a right click instead asks to remove the nearest point of the current
left-click kind. Wheel zooms around the cursor; middle drag or Ctrl+left drag pans. The canvas only emits requests; it never changes prompts itself.
A press held in place that will add a point says so before its release (``add_anticipated``),
so that SAM can decode while the button is down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from desktop.mask_overlay import MaskOverlay, OverlayStyle, mask_overlay, rgb_to_qimage
from desktop.point_markers import EXCLUSION_COLOUR, INCLUSION_COLOUR, PointMarkers  # noqa: F401 (the colours: re-exported)
from desktop.suggestion_marker import SuggestionMarker

DRAG_THRESHOLD_PX = 3  # view pixels a press must travel to count as a drag
HIT_RADIUS_PX = 9  # view pixels around a point that grab it
NEXT_MARKER_AFTER_MS = 30  # idle time after the markers change before the next one's sprites are made
# A press held this long in place announces its point (add_anticipated), so that SAM decodes
# while the button is still down (a person holds a click ~100 ms). Not at once: a release that
# follows within a few ms (a tap, a scripted click) is served sooner without it, as the
# release's own work would run alongside the decode and slow it on a small CPU.
ANTICIPATE_AFTER_MS = 8


@dataclass
class Press:
    """A mouse press on the canvas, until its release. pos: view pixels; point: index of the
    point it grabbed, or None; pixel: the image pixel (x, y) pressed, or None outside the
    image; adds: the label (1/0) of the point its click adds, None if it grabs or removes;
    announced: add_anticipated was emitted for it."""

    pos: QPoint
    point: int | None
    button: Qt.MouseButton
    modifiers: Qt.KeyboardModifier
    pixel: tuple[int, int] | None
    adds: int | None
    announced: bool = False


class ImageCanvas(QGraphicsView):
    """See the module docstring. Signals carry image pixels (x, y) and point indices."""

    add_requested = Signal(int, int, int)  # x, y, label (1 inclusion, 0 exclusion)
    remove_requested = Signal(int)  # point index
    move_requested = Signal(int, int, int)  # point index, new x, new y
    remove_nearest_requested = Signal(float, float)  # x, y of a right click when right_click_removes
    add_anticipated = Signal(int, int, int)  # x, y, label: a held press that adds this point if released in place
    anticipation_dropped = Signal()  # the announced press ended without adding its point

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        # three items (photo, mask, markers): a linear search beats the scene's BSP tree, and the
        # markers item is found at its new size at once (the tree updates its entries lazily)
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QColor(40, 40, 40))
        # the background brush covers every pixel the view repaints: Qt need not fill them first
        # (per-click ratio 0.05 lower in the median of eight alternating runs of the app bench)
        self.viewport().setAutoFillBackground(False)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        # what changed is repainted as one rect (the bounding rect of the markers and the old and new
        # mask boxes): a region of several rects clips every item's drawing to all of them, which
        # cost more than the larger area (per-click ratio 0.00–0.08 lower in six alternating runs
        # of bench/bench_annotation_app.py; repainting only the changed tiles was slower still)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self._image_item = QGraphicsPixmapItem()
        self._mask_item = QGraphicsPixmapItem()
        self._mask_item.setZValue(1)
        self.markers = PointMarkers()  # see desktop.point_markers
        self.markers.setZValue(2)
        self._map_item = QGraphicsPixmapItem()  # a gradient map, under the mask (desktop.map_overlay)
        self._map_item.setZValue(0.5)
        self._map_image: QImage | None = None
        self.suggestion_marker = SuggestionMarker()  # the suggested next click, above the points
        self.suggestion_marker.setZValue(3)
        for item in (self._image_item, self._map_item, self._mask_item, self.markers, self.suggestion_marker):
            self.scene().addItem(item)
        self._marker_keys: list[tuple | None] = []  # (x, y, label) each marker shows
        self._points = np.zeros((0, 2))
        self._point_list: list[list[float]] = []  # the same (x, y), as Python floats
        self._labels = np.zeros(0, np.int64)
        self._size = (0, 0)  # (H, W)
        self._mask: np.ndarray | None = None
        self._press: Press | None = None
        self._pan_from = None
        self._fitted = True
        self.mask_alpha = 110
        self.outline = True
        self.left_label = 1
        self.right_click_removes = False  # the lab tool's mapping (protocol mode): right click removes
        self.editable = True
        self.anticipate = True  # announce a held press's point (add_anticipated) before its release
        self._anticipation = QTimer(self)  # see ANTICIPATE_AFTER_MS
        self._anticipation.setSingleShot(True)
        self._anticipation.setTimerType(Qt.TimerType.PreciseTimer)
        self._anticipation.timeout.connect(self._announce_press)
        self._next_marker_timer = QTimer(self)  # see _prepare_next_marker
        self._next_marker_timer.setSingleShot(True)
        self._next_marker_timer.timeout.connect(self._prepare_next_marker)
        self._paint_hold = QTimer(self)  # see hold_paint
        self._paint_hold.setSingleShot(True)
        self._paint_hold.timeout.connect(self.release_paint)
        self._paints = 0  # viewport paints so far (see paint_now)

    # --- content -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None) -> None:
        """Show an (H, W, 3) uint8 image (None: nothing), clearing mask and points, fitted to the view."""
        self._paint_hold.stop()  # the held points belong to the image that goes
        if image is None:
            self._size = (0, 0)
            self._image_item.setPixmap(QPixmap())
        else:
            self._size = image.shape[:2]
            self._image_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(image)))
            # drawn once per zoom level into a viewport-sized pixmap, then copied unscaled on each
            # repaint after a click (~0.4 ms less on the path from click to mask at 320×240)
            self._image_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.scene().setSceneRect(QRectF(0, 0, image.shape[1], image.shape[0]))
        self.set_mask(None)
        self.set_map_overlay(None)
        self.set_suggestion(None)
        self.set_points(np.zeros((0, 2)), np.zeros(0))
        self.markers.set_radius(self._radius())
        self.fit()

    @property
    def overlay_style(self) -> OverlayStyle:
        """How masks are drawn now (opacity, outline)."""
        return OverlayStyle(self.mask_alpha, self.outline)

    def set_mask(self, mask: np.ndarray | None, overlay: MaskOverlay | None = None) -> None:
        """Overlay an (H, W) bool mask, or clear the overlay with None. ``overlay``: the mask's
        overlay drawn already (by the inference worker, off this thread); used if it is in the
        current style, else drawn anew."""
        self._mask = mask
        if mask is not None and (overlay is None or overlay.style != self.overlay_style):
            overlay = mask_overlay(mask, self.overlay_style)
        if mask is None or overlay.image is None:  # nothing selected: no overlay
            self._mask_item.setPixmap(QPixmap())
            return
        self._mask_item.setOffset(overlay.x, overlay.y)
        self._mask_item.setPixmap(QPixmap.fromImage(overlay.image))

    def set_map_overlay(self, image: QImage | None) -> None:
        """Show a gradient map's overlay (a W × H QImage drawn off this thread, see
        desktop.map_overlay), or none; the same image again changes nothing."""
        if image is self._map_image:
            return
        self._map_image = image
        self._map_item.setPixmap(QPixmap() if image is None else QPixmap.fromImage(image))

    @property
    def map_overlay(self) -> QImage | None:
        """The map overlay on show, or None."""
        return self._map_image

    def set_suggestion(self, suggestion) -> None:
        """Mark the suggested next click (anything with x, y, label: core.gradients.suggest_click.Suggestion),
        or remove the mark with None."""
        if suggestion is None:
            if self.suggestion_marker.pixel is not None:
                self.suggestion_marker.clear()
        elif self.suggestion_marker.pixel != (suggestion.x, suggestion.y) \
                or self.suggestion_marker.label != suggestion.label:
            self.suggestion_marker.show_at(suggestion.x, suggestion.y, suggestion.label)

    @property
    def mask(self) -> np.ndarray | None:
        """The (H, W) bool mask on show, or None."""
        return self._mask

    def set_overlay_style(self, alpha: int | None = None, outline: bool | None = None) -> None:
        """Mask fill opacity 0–255 and outline on/off; repaints the current mask."""
        self.mask_alpha = self.mask_alpha if alpha is None else int(alpha)
        self.outline = self.outline if outline is None else bool(outline)
        self.set_mask(self._mask)

    def set_points(self, points: np.ndarray, labels: np.ndarray) -> None:
        """Draw points (N, 2) (x, y) with labels (N,), numbered in order from 1.

        During :meth:`hold_paint` only the points are taken (hit-testing uses them at once);
        their markers follow when the hold ends. The leading markers whose point, label and
        size are unchanged are kept, so a click adds one marker instead of rebuilding them all
        (each new number's first paint lays out its glyphs: ~0.15 ms a point).
        """
        self._press = None  # a drag in progress refers to the old points: drop it
        self._points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        self._point_list = self._points.tolist()  # for point_at
        self._labels = np.asarray(labels)
        if not self.holding:
            self._sync_markers()

    def _radius(self) -> float:
        """Marker radius in image pixels: 1.2 % of the image's longer side, at least 3."""
        return max(3.0, 0.012 * max(self._size or (1, 1)))

    def _sync_markers(self) -> None:
        """Make the markers show ``self._points``: the unchanged leading ones are not repainted."""
        keys = [(x, y, int(label)) for (x, y), label in zip(self._point_list, self._labels.tolist())]
        keep = 0
        while keep < min(len(keys), len(self._marker_keys)) and keys[keep] == self._marker_keys[keep]:
            keep += 1
        if keep == len(keys) == len(self._marker_keys):
            return
        self._marker_keys = keys
        self.markers.set_centres([(x + 0.5, y + 0.5, label) for x, y, label in keys], keep)
        self._next_marker_timer.start(NEXT_MARKER_AFTER_MS)

    def _prepare_next_marker(self) -> None:
        """Render the next point's marker sprites ahead, once the canvas is idle."""
        if self.holding:  # a click is in flight: not now, SAM is decoding
            self._next_marker_timer.start(NEXT_MARKER_AFTER_MS)
            return
        self.markers.prepare(len(self._marker_keys) + 1, self.transform().m11(), self.devicePixelRatioF())

    @property
    def holding(self) -> bool:
        """True during :meth:`hold_paint`."""
        return self._paint_hold.isActive()

    def hold_paint(self, milliseconds: int) -> None:
        """Hold the point markers for up to ``milliseconds``, or until :meth:`release_paint`:
        :meth:`set_points` takes the points at once but changes no marker until then.

        After a click the window holds the new point while SAM decodes, so that the point and
        its mask appear in one frame, and the UI thread leaves the GIL and both cores to the
        decoder (creating the marker items and laying out their numbers while it runs slowed the
        tiny SAM's decode as much as they cost); a slow model's point is shown at the deadline,
        before its mask. A hold already running is not extended, so rapid clicks still see
        their points at least every ``milliseconds``.
        """
        if self.holding:
            return
        self._paint_hold.start(milliseconds)

    def release_paint(self) -> None:
        """End :meth:`hold_paint`: the markers catch up with the points (painted on the next
        event-loop turn, or at once by :meth:`paint_now`)."""
        self._paint_hold.stop()
        self._sync_markers()

    def paint_now(self) -> None:
        """End any hold and paint what changed before returning, not on the next event-loop turn.

        What changed is known to the scene, which hands it to the view in a queued call; that
        call is delivered here, and (Qt 6.11) it paints the bounding rect of those boxes (new and
        dropped markers, the old and the new mask's box) at once, where ``viewport().repaint()``
        painted the whole viewport. Should it only schedule the paint (another Qt), a repaint of
        the mask's box follows, which paints all that is pending in the window."""
        self.release_paint()
        painted = self._paints
        QCoreApplication.sendPostedEvents(self.scene(), QEvent.Type.MetaCall)
        if self._paints == painted:
            changed = self.mapFromScene(self._mask_item.sceneBoundingRect()).boundingRect()
            self.viewport().repaint(changed if not changed.isEmpty() else QRect(0, 0, 1, 1))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._paints += 1
        super().paintEvent(event)

    # --- zoom and pan --------------------------------------------------------------------
    def fit(self) -> None:
        """Fit the whole image into the view (F)."""
        self._fitted = True
        self.resetTransform()
        self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self._fitted = False
        self.scale(factor, factor)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom(1.25 ** steps)
        event.accept()

    # --- hit testing ---------------------------------------------------------------------
    def image_point(self, view_pos) -> tuple[int, int] | None:
        """The integer image pixel (x, y) under a view position, or None outside the image."""
        scene = self.mapToScene(view_pos)
        x, y = int(np.floor(scene.x())), int(np.floor(scene.y()))
        height, width = self._size
        return (x, y) if 0 <= x < width and 0 <= y < height else None

    def point_at(self, view_pos) -> int | None:
        """Index of the drawn point within HIT_RADIUS_PX view pixels of ``view_pos``, or None."""
        if not self._point_list:
            return None
        t = self.viewportTransform()  # scene → view: (x, y) ↦ (m11 x + m21 y + dx, m12 x + m22 y + dy)
        m11, m12, m21, m22 = t.m11(), t.m12(), t.m21(), t.m22()
        px, py = view_pos.x() - t.dx(), view_pos.y() - t.dy()
        # plain floats, not numpy: for the tens of points a person places, numpy's per-call cost
        # made this the press's largest part (0.24 ms of the click's path, cold)
        best, nearest = math.inf, None
        for index, (x, y) in enumerate(self._point_list):
            x, y = x + 0.5, y + 0.5  # pixel centres
            distance = math.hypot(m11 * x + m21 * y - px, m12 * x + m22 * y - py)
            if distance < best:
                best, nearest = distance, index
        return nearest if best <= HIT_RADIUS_PX else None

    # --- mouse ---------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        pos = event.position().toPoint()
        button, modifiers = event.button(), event.modifiers()
        pan = button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and modifiers & Qt.KeyboardModifier.ControlModifier)
        if pan:
            self._pan_from = pos
        elif self.editable and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            removes = button == Qt.MouseButton.RightButton and self.right_click_removes
            point = None if removes else self.point_at(pos)
            pixel = self.image_point(pos)
            adds = None if removes or point is not None or pixel is None else (
                0 if button == Qt.MouseButton.RightButton or modifiers & Qt.KeyboardModifier.ShiftModifier
                else self.left_label)
            self._press = Press(pos, point, button, modifiers, pixel, adds)
            if adds is not None and self.anticipate:
                self._anticipation.start(ANTICIPATE_AFTER_MS)
        event.accept()

    def _announce_press(self) -> None:
        """The press has been held in place for ANTICIPATE_AFTER_MS: announce the point it adds."""
        press = self._press
        if press is not None and press.adds is not None and self.editable:
            press.announced = True
            self.add_anticipated.emit(press.pixel[0], press.pixel[1], press.adds)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        pos = event.position().toPoint()
        press = self._press
        if press is not None and (pos - press.pos).manhattanLength() > DRAG_THRESHOLD_PX:
            self._anticipation.stop()  # a drag adds no point: nothing to anticipate
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self._fitted = False
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif press is not None and press.point is not None:
            self.release_paint()  # the dragged point's marker must exist
            index = press.point  # show the dragged point under the cursor
            self._marker_keys[index] = None  # no longer where its key says: redraw it next time
            scene = self.mapToScene(pos)
            self.markers.move_marker(index, scene.x(), scene.y())
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """A click adds a point at the pixel pressed (a tremor of up to DRAG_THRESHOLD_PX before
        the release does not move it), or removes the point clicked; a drag moves a point."""
        pos = event.position().toPoint()
        press, self._press = self._press, None
        self._anticipation.stop()
        if self._pan_from is not None:
            self._pan_from = None
        elif press is not None:
            moved = (pos - press.pos).manhattanLength() > DRAG_THRESHOLD_PX
            target = self.image_point(pos)
            if press.announced and moved:
                self.anticipation_dropped.emit()
            if press.point is not None:
                if not moved:
                    self.remove_requested.emit(press.point)
                elif target is not None:
                    self.move_requested.emit(press.point, *target)
                else:  # dropped outside the image: put the marker back
                    self.set_points(self._points, self._labels)
            elif press.adds is not None and not moved:
                self.add_requested.emit(press.pixel[0], press.pixel[1], press.adds)
            elif target is not None and not moved and press.button == Qt.MouseButton.RightButton \
                    and self.right_click_removes:
                scene = self.mapToScene(pos)
                self.remove_nearest_requested.emit(scene.x() - 0.5, scene.y() - 0.5)
        event.accept()
