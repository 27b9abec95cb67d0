"""The canvas and thumbnail drawing: overlay pixels, kept markers, held paints."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QRegion

from desktop.candidate_strip import thumbnail
from desktop.image_canvas import ImageCanvas
from desktop.mask_overlay import MASK_COLOUR, mask_extent, mask_to_qimage


def pixel(image: QImage, x: int, y: int) -> tuple[int, int, int, int]:
    colour = QColor(image.pixelColor(x, y))
    return colour.red(), colour.green(), colour.blue(), colour.alpha()


def shown_canvas(qtbot, image: np.ndarray, size: tuple[int, int] | None = None) -> ImageCanvas:
    """An ImageCanvas on screen (offscreen), resized to ``size`` (width, height) if given, showing ``image``."""
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    if size is not None:
        canvas.resize(*size)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image(image)
    return canvas


def near(rgba: tuple, expected: tuple) -> bool:
    """Equal within 1 per channel: the overlay is stored premultiplied, so a translucent colour
    comes back rounded (30, 144, 255) at alpha 80 reads (29, 143, 255)."""
    return rgba[3] == expected[3] and max(abs(a - b) for a, b in zip(rgba, expected)) <= 1


def test_mask_overlay_fills_inside_outlines_the_edge_and_leaves_outside_clear():
    mask = np.zeros((20, 30), bool)
    mask[5:15, 8:20] = True  # rows 5..14, columns 8..19
    image = mask_to_qimage(mask, MASK_COLOUR, 110, outline=True)
    assert (image.width(), image.height()) == (30, 20)
    assert near(pixel(image, 12, 10), (*MASK_COLOUR, 110))  # interior
    assert pixel(image, 8, 10) == (255, 255, 0, 255)  # left edge column
    assert pixel(image, 12, 14) == (255, 255, 0, 255)  # bottom edge row
    assert pixel(image, 2, 2)[3] == 0 and pixel(image, 20, 10)[3] == 0  # outside, just right of the edge
    plain = mask_to_qimage(mask, MASK_COLOUR, 80, outline=False)
    assert near(pixel(plain, 8, 10), (*MASK_COLOUR, 80))


def test_mask_overlay_accepts_a_non_contiguous_view():
    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:50] = True
    view = mask[::2, ::2]  # (20, 30), strided
    image = mask_to_qimage(view, MASK_COLOUR, 110, outline=True)
    assert near(pixel(image, 17, 10), (*MASK_COLOUR, 110)) and pixel(image, 2, 2)[3] == 0


def test_thumbnail_tints_the_mask_only_and_keeps_the_aspect_ratio():
    image = np.full((300, 600, 3), 200, np.uint8)
    mask = np.zeros((300, 600), bool)
    mask[:, :300] = True
    small = thumbnail(image, mask, side=96)
    assert small.shape == (48, 96, 3) and small.dtype == np.uint8
    expected = np.rint(200 + 0.55 * (np.array(MASK_COLOUR) - 200))
    assert np.abs(small[24, 10].astype(int) - expected).max() <= 1  # inside: tinted towards the mask colour
    assert np.array_equal(small[24, 90], [200, 200, 200])  # outside: untouched


def test_adding_a_point_repaints_only_its_marker(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 120, 3), np.uint8), (400, 300))
    canvas.set_points(np.array([[10, 10], [50, 60]]), np.array([1, 0]))
    assert canvas.markers.centres == [(10.5, 10.5, 1), (50.5, 60.5, 0)]  # pixel centres, labels
    qtbot.wait(20)
    log = PaintLog()
    canvas.viewport().installEventFilter(log)
    canvas.set_points(np.array([[10, 10], [50, 60], [90, 20]]), np.array([1, 0, 1]))
    qtbot.waitUntil(lambda: bool(log.regions), timeout=2000)
    painted = QRegion()
    for region in log.regions:
        painted = painted.united(region)
    third = canvas.mapFromScene(canvas.markers.marker_rect(3)).boundingRect()
    assert painted.contains(third.center())
    assert not painted.contains(canvas.mapFromScene(QPointF(10.5, 10.5)))  # the first marker is left as it was
    canvas.set_points(np.array([[50, 60], [90, 20]]), np.array([0, 1]))  # the first removed: renumbered
    assert canvas.markers.centres == [(50.5, 60.5, 0), (90.5, 20.5, 1)]
    canvas.set_points(np.zeros((0, 2)), np.zeros(0))
    assert canvas.markers.centres == []


def test_markers_are_numbered_in_order_beside_their_points(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    canvas.set_points(np.array([[40, 60]]), np.array([1]))
    image = canvas.viewport().grab().toImage()
    centre = canvas.mapFromScene(QPointF(40.5, 60.5))
    white = [(x, y) for x in range(centre.x() - 30, centre.x() + 40) for y in range(centre.y() - 40, centre.y() + 30)
             if min(pixel(image, x, y)[:3]) > 160]  # the ring and the number (antialiased) on black
    number = [(x, y) for x, y in white if x > centre.x() + 6 and y < centre.y() - 6]
    assert number, "the number is drawn up and to the right of its point"
    assert not [(x, y) for x, y in white if x < centre.x() - 20 or y > centre.y() + 20]  # nothing astray


def test_a_marker_is_drawn_as_often_as_asked_and_rendered_once_per_zoom(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    canvas.set_points(np.array([[40, 30], [120, 60]]), np.array([1, 0]))
    canvas.viewport().grab()
    rendered = canvas.markers.rendered
    assert rendered == 2
    canvas.viewport().grab()
    canvas.viewport().grab()
    assert canvas.markers.rendered == rendered  # the sprites are reused
    canvas.zoom(1.5)
    canvas.viewport().grab()
    assert canvas.markers.rendered == rendered + 2  # a new zoom: drawn afresh, at the new size


def test_a_drag_dropped_outside_the_image_puts_the_marker_back(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 120, 3), np.uint8), (400, 300))
    canvas.set_points(np.array([[30, 40]]), np.array([1]))
    moved = []
    canvas.move_requested.connect(lambda *args: moved.append(args))
    before = canvas.markers.centres
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(30.5, 40.5)))
    qtbot.mouseMove(viewport, canvas.mapFromScene(QPointF(80.5, 70.5)))
    (x, y, label), = canvas.markers.centres
    assert abs(x - 80.5) < 1 and abs(y - 70.5) < 1 and label == 1  # follows the cursor
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(-30, -30)))
    assert moved == []
    assert canvas.markers.centres == before


def test_held_points_are_hit_at_once_and_drawn_when_the_hold_ends_or_expires(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((120, 160, 3), np.uint8), (400, 300))
    canvas.hold_paint(10_000)
    canvas.set_points(np.array([[30, 40]]), np.array([1]))
    assert canvas.point_at(canvas.mapFromScene(QPointF(30.5, 40.5))) == 0  # a click on it finds it at once
    assert canvas.markers.centres == []  # but its marker waits for the hold's end
    canvas.release_paint()
    assert len(canvas.markers.centres) == 1
    canvas.hold_paint(10_000)
    canvas.hold_paint(1)  # a running hold is not restarted (rapid clicks still see their points)
    canvas.set_points(np.array([[30, 40], [80, 70]]), np.array([1, 0]))
    qtbot.wait(50)
    assert len(canvas.markers.centres) == 1
    canvas.release_paint()
    assert len(canvas.markers.centres) == 2
    canvas.hold_paint(30)
    canvas.set_points(np.zeros((0, 2)), np.zeros(0))
    assert len(canvas.markers.centres) == 2  # a removal waits too
    qtbot.waitUntil(lambda: canvas.markers.centres == [])  # the deadline


def test_a_held_point_can_be_dragged_before_its_marker_is_drawn(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((120, 160, 3), np.uint8), (400, 300))
    moved = []
    canvas.move_requested.connect(lambda i, x, y: moved.append((i, x, y)))
    canvas.hold_paint(10_000)
    canvas.set_points(np.array([[30, 40]]), np.array([1]))
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(30.5, 40.5)))
    qtbot.mouseMove(viewport, canvas.mapFromScene(QPointF(80.5, 70.5)))
    assert canvas.markers.centres[0][0] > 60  # drawn, under the cursor
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(80.5, 70.5)))
    assert moved == [(0, 80, 70)]


class PaintLog(QObject):
    """Records the region of each paint event of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.regions = []

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Paint:
            self.regions.append(QRegion(event.region()))
        return False


def test_paint_now_paints_once_the_bounding_rect_of_what_changed_and_leaves_the_screen_as_a_full_repaint(qtbot):
    from PySide6.QtWidgets import QApplication

    canvas = shown_canvas(qtbot, np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8), (400, 300))
    before = np.zeros((120, 160), bool)
    before[10:40, 20:60] = True
    canvas.set_points(np.array([[30, 20]]), np.array([1]))
    canvas.set_mask(before)
    qtbot.wait(30)
    log = PaintLog()
    canvas.viewport().installEventFilter(log)
    canvas.hold_paint(10_000)
    canvas.set_points(np.array([[30, 20], [110, 90]]), np.array([1, 0]))
    qtbot.wait(30)
    assert log.regions == []  # the new point is held: nothing is painted while SAM would decode
    after = np.zeros((120, 160), bool)
    after[70:100, 90:130] = True
    canvas.set_mask(after)
    canvas.paint_now()
    assert len(log.regions) == 1
    painted = log.regions[0]
    for box in (before, after):  # the old and the new mask's box, not the whole viewport
        x, y, width, height = mask_extent(box)
        assert painted.contains(canvas.mapFromScene(QRectF(x, y, width, height)).boundingRect().adjusted(1, 1, -1, -1))
    assert painted.rectCount() == 1  # their bounding rect (see ImageCanvas.__init__)
    area = painted.boundingRect().width() * painted.boundingRect().height()
    assert area < 0.7 * canvas.viewport().width() * canvas.viewport().height()
    qtbot.wait(30)
    assert len(log.regions) == 1  # and nothing was left to paint later
    on_screen = QApplication.primaryScreen().grabWindow(canvas.winId()).toImage()  # the backing store
    fresh = canvas.grab().toImage()  # everything drawn anew
    assert on_screen.convertToFormat(fresh.format()) == fresh


def test_the_cached_image_paints_exactly_as_the_uncached_after_zoom_and_pan(qtbot):
    from PySide6.QtWidgets import QGraphicsItem

    canvas = shown_canvas(qtbot, np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8), (500, 400))
    assert canvas._image_item.cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache

    def grab():
        canvas.viewport().repaint()
        return canvas.viewport().grab().toImage()

    for change in (lambda: None, lambda: canvas.zoom(2.3),
                   lambda: canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().value() + 37)):
        change()
        cached = grab()
        canvas._image_item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        assert cached == grab()
        canvas._image_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def test_point_at_finds_the_point_under_the_cursor_when_zoomed_and_panned(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((120, 160, 3), np.uint8), (500, 400))
    points = np.array([[10, 10], [60, 40], [64, 44], [150, 110]])
    canvas.set_points(points, np.array([1, 0, 1, 1]))
    canvas.zoom(3.0)
    canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().value() + 50)
    for index, (x, y) in enumerate(points[1:3], start=1):  # 4 px apart in the image, 12 on screen: told apart
        centre = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
        assert canvas.point_at(centre) == index
        assert canvas.point_at(centre + QPointF(3, -2).toPoint()) == index
    far = canvas.mapFromScene(QPointF(100.5, 80.5))
    assert canvas.point_at(far) is None


@pytest.mark.parametrize("outline", [True, False])
def test_the_overlay_of_the_mask_extent_equals_the_whole_overlay_there(outline):
    rng = np.random.default_rng(5)
    masks = [np.zeros((30, 40), bool), np.ones((30, 40), bool)]
    for _ in range(6):  # blobs, some touching an edge of the image
        mask = np.zeros((30, 40), bool)
        y, x = rng.integers(-3, 30), rng.integers(-3, 40)
        mask[max(y, 0):y + rng.integers(2, 12), max(x, 0):x + rng.integers(2, 12)] = True
        masks.append(mask)
    masks.append(np.zeros((60, 80), bool)[::2, ::2])  # a strided view
    masks[-1][5:9, 7:20] = True
    for mask in masks:
        x, y, width, height = mask_extent(mask)
        if not mask.any():
            assert width == height == 0
            continue
        assert mask[y:y + height, x:x + width].sum() == mask.sum()
        whole = mask_to_qimage(mask, MASK_COLOUR, 110, outline)
        crop = mask_to_qimage(mask[y:y + height, x:x + width], MASK_COLOUR, 110, outline)
        assert crop == whole.copy(x, y, width, height)


def test_an_empty_or_full_mask_is_shown_without_error(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 120, 3), np.uint8))
    canvas.set_mask(np.zeros((100, 120), bool))
    canvas.viewport().repaint()
    assert canvas._mask_item.pixmap().isNull() and canvas.mask is not None
    mask = np.zeros((100, 120), bool)
    mask[10:20, 30:50] = True
    canvas.set_mask(mask)
    assert canvas._mask_item.sceneBoundingRect() == QRectF(29, 9, 22, 12)  # the box and its outline ring
    canvas.set_mask(np.ones((100, 120), bool))
    assert canvas._mask_item.sceneBoundingRect() == QRectF(0, 0, 120, 100)


def test_an_overlay_drawn_in_another_style_is_drawn_anew(qtbot):
    from desktop.mask_overlay import OverlayStyle, mask_overlay

    canvas = shown_canvas(qtbot, np.zeros((60, 80, 3), np.uint8))
    mask = np.zeros((60, 80), bool)
    mask[10:30, 20:50] = True
    stale = mask_overlay(mask, OverlayStyle(alpha=30, outline=False))  # the style changed after the request
    canvas.set_overlay_style(alpha=200, outline=True)
    canvas.set_mask(mask, stale)
    shown = canvas._mask_item.pixmap().toImage()
    assert shown == mask_overlay(mask, OverlayStyle(200, True)).image and shown != stale.image
    assert canvas._mask_item.offset().x() == 19 and canvas._mask_item.offset().y() == 9


def announced_presses(qtbot, canvas: ImageCanvas) -> list:
    announced = []
    canvas.add_anticipated.connect(lambda x, y, label: announced.append((x, y, label)))
    return announced


def test_a_press_held_in_place_announces_its_point_and_a_quick_click_does_not(qtbot):
    from desktop.image_canvas import ANTICIPATE_AFTER_MS

    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    announced, added = announced_presses(qtbot, canvas), []
    canvas.add_requested.connect(lambda x, y, label: added.append((x, y, label)))
    at = canvas.mapFromScene(QPointF(40.5, 30.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)  # released at once
    qtbot.wait(3 * ANTICIPATE_AFTER_MS)
    assert announced == [] and added == [(40, 30, 1)]
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at, stateKey=Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: announced == [(40, 30, 0)], timeout=2000)  # Shift: an exclusion point
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at, stateKey=Qt.KeyboardModifier.ShiftModifier)
    assert added[-1] == (40, 30, 0)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.RightButton, pos=canvas.mapFromScene(QPointF(150.5, 80.5)))
    qtbot.waitUntil(lambda: len(announced) == 2, timeout=2000)
    assert announced[-1] == (150, 80, 0)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.RightButton, pos=canvas.mapFromScene(QPointF(150.5, 80.5)))


def test_presses_that_add_nothing_announce_nothing(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    canvas.set_points(np.array([[40.0, 30.0]]), np.array([1]))
    announced = announced_presses(qtbot, canvas)
    viewport = canvas.viewport()
    on_point, inside = canvas.mapFromScene(QPointF(40.5, 30.5)), canvas.mapFromScene(QPointF(120.5, 60.5))
    outside = canvas.mapFromScene(QPointF(-20, 50))
    presses = [(Qt.MouseButton.LeftButton, on_point), (Qt.MouseButton.LeftButton, outside)]
    for button, pos in presses:  # a press on a point grabs it; outside the image there is no pixel
        qtbot.mousePress(viewport, button, pos=pos)
        qtbot.wait(40)
        qtbot.mouseRelease(viewport, button, pos=pos)
    canvas.right_click_removes = True  # the lab tool's right click removes
    qtbot.mousePress(viewport, Qt.MouseButton.RightButton, pos=inside)
    qtbot.wait(40)
    qtbot.mouseRelease(viewport, Qt.MouseButton.RightButton, pos=inside)
    canvas.right_click_removes = False
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=inside)  # moved away before the announcement
    qtbot.mouseMove(viewport, pos=inside + QPoint(20, 0))
    qtbot.wait(40)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=inside + QPoint(20, 0))
    assert announced == []


def test_an_announced_press_dragged_away_is_dropped_and_a_tremor_keeps_the_pressed_pixel(qtbot):
    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    announced, added, dropped = announced_presses(qtbot, canvas), [], []
    canvas.add_requested.connect(lambda x, y, label: added.append((x, y)))
    canvas.anticipation_dropped.connect(lambda: dropped.append(True))
    viewport, at = canvas.viewport(), canvas.mapFromScene(QPointF(120.5, 60.5))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: len(announced) == 1, timeout=2000)
    qtbot.mouseMove(viewport, pos=at + QPoint(30, 0))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at + QPoint(30, 0))
    assert dropped == [True] and added == []
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at)
    qtbot.waitUntil(lambda: len(announced) == 2, timeout=2000)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at + QPoint(3, 0))  # within the drag threshold
    assert added == [(120, 60)] and dropped == [True]  # where it was pressed (3 view px is > 1 image px here)


def test_the_canvas_paints_its_whole_viewport_itself_and_leaves_no_trace_of_the_last_image(qtbot):
    from PySide6.QtWidgets import QApplication

    canvas = shown_canvas(qtbot, np.full((300, 400, 3), 255, np.uint8), (400, 300))  # white, filling the view
    assert canvas.viewport().testAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # no fill under our paint
    qtbot.wait(30)
    canvas.set_image(np.full((20, 100, 3), 255, np.uint8))  # a wide strip: bands above and below
    qtbot.wait(30)
    on_screen = QApplication.primaryScreen().grabWindow(canvas.winId()).toImage()
    corner = canvas.viewport().mapTo(canvas, canvas.viewport().rect().topLeft()) + QPoint(5, 5)
    assert pixel(on_screen, corner.x(), corner.y()) == (40, 40, 40, 255)  # the background, not the old white


def test_a_press_grabs_the_nearest_point_within_the_hit_radius_at_any_zoom(qtbot):
    from desktop.image_canvas import HIT_RADIUS_PX

    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    canvas.set_points(np.array([[40.0, 30.0], [44.0, 30.0], [150.0, 80.0]]), np.array([1, 0, 1]))
    for zoom in (1.0, 3.0):
        canvas.zoom(zoom)
        centre = lambda x, y: canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))  # noqa: E731
        assert canvas.point_at(centre(40, 30)) == 0 and canvas.point_at(centre(44, 30)) == 1
        assert canvas.point_at(centre(43, 30)) == 1  # nearer the second
        assert canvas.point_at(centre(150, 80) + QPoint(HIT_RADIUS_PX - 2, 0)) == 2
        assert canvas.point_at(centre(150, 80) + QPoint(HIT_RADIUS_PX + 2, 0)) is None
    canvas.set_points(np.zeros((0, 2)), np.zeros(0))
    assert canvas.point_at(canvas.mapFromScene(QPointF(40.5, 30.5))) is None


def test_markers_are_green_for_inclusion_and_red_for_exclusion_and_follow_a_changed_label(qtbot):
    from desktop.image_canvas import EXCLUSION_COLOUR, INCLUSION_COLOUR

    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))

    def colour_at(x, y):
        canvas.viewport().repaint()
        at = canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
        return pixel(canvas.viewport().grab().toImage(), at.x(), at.y())[:3]

    green, red = INCLUSION_COLOUR.getRgb()[:3], EXCLUSION_COLOUR.getRgb()[:3]
    canvas.set_points(np.array([[40, 30], [120, 60]]), np.array([1, 0]))
    assert colour_at(40, 30) == green and colour_at(120, 60) == red
    canvas.set_points(np.array([[40, 30], [120, 60], [160, 20]]), np.array([1, 1, 0]))
    assert colour_at(40, 30) == green and colour_at(120, 60) == green and colour_at(160, 20) == red


def test_the_next_marker_is_rendered_ahead_while_idle_and_drawn_by_the_next_click_as_is(qtbot):
    from desktop.image_canvas import NEXT_MARKER_AFTER_MS

    canvas = shown_canvas(qtbot, np.zeros((100, 200, 3), np.uint8), size=(400, 300))
    canvas.set_points(np.array([[40, 30], [120, 60]]), np.array([1, 0]))
    canvas.viewport().grab()
    drawn = canvas.markers.rendered  # markers 1 and 2
    qtbot.waitUntil(lambda: canvas.markers.rendered == drawn + 2, timeout=5000)  # 3, inclusion and exclusion
    qtbot.wait(3 * NEXT_MARKER_AFTER_MS)
    assert canvas.markers.rendered == drawn + 2  # once
    canvas.hold_paint(10_000)  # a click: its marker was made ahead, nothing is rendered on its path
    canvas.set_points(np.array([[40, 30], [120, 60], [160, 20]]), np.array([1, 0, 1]))
    canvas.paint_now()
    assert canvas.markers.rendered == drawn + 2
    canvas.hold_paint(10_000)  # while a click is in flight, nothing is made ahead
    qtbot.wait(3 * NEXT_MARKER_AFTER_MS)
    assert canvas.markers.rendered == drawn + 2
    canvas.release_paint()
    qtbot.waitUntil(lambda: canvas.markers.rendered == drawn + 4, timeout=5000)  # then marker 4
