"""A varied procedural scene generator for *training* the tiny SAM.

Wider than the demo generator (core.synthetic.scenes, which it mixes in for part of the
scenes): more texture styles (multi-octave value noise mapped through colour ramps, plaid,
dots, speckle, radial ramps, two-tone splits), camouflaged objects (the background's colours
in another texture, or the background's texture in other colours), more shape kinds (Fourier
blobs, Bézier curves, crescents, hollow frames, crosses) at log-uniform sizes from a few pixels
to half the image, 1–10 objects with occlusion, and global shading, noise and blur.
``render_thin_training_scene`` (the "varied_thin" generator) adds thin structures on top:
wandering strokes whose turn rate drifts (so some curl up) and the outlines of blobs, closed or
cut open, 2–14 px wide.

It shares no code or parameters with core.synthetic.unseen_scenes, the held-out family that
measures generalisation: keep it that way, or the unseen figures stop meaning anything.
All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.synthetic.photo_textures import photo_crop
from core.synthetic.scenes import Scene, render_scene, visible_scene

TRAIN_SHAPE_KINDS = ("ellipse", "polygon", "star", "bar", "rectangle", "blob", "curve", "crescent", "frame", "cross")
THIN_SHAPE_KINDS = ("scribble", "outline")


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour (float32), a quarter of the time nearly grey."""
    if rng.uniform() < 0.25:
        return np.clip(rng.uniform(0, 255) + rng.normal(0, 10, 3), 0, 255).astype(np.float32)
    return rng.uniform(0, 255, 3).astype(np.float32)


def _value_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W) float32 in [0, 1]: bicubically upsampled random grids, 1–4 octaves."""
    total = np.zeros((height, width), np.float32)
    cells = int(rng.integers(2, 12))
    amplitude, norm = 1.0, 0.0
    for _ in range(int(rng.integers(1, 5))):
        grid = rng.uniform(0, 1, (cells, cells)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        cells, amplitude = cells * 2, amplitude * rng.uniform(0.35, 0.7)
    total /= norm
    return (total - total.min()) / max(float(np.ptp(total)), 1e-6)


def _weight(rng: np.random.Generator, style: str, height: int, width: int) -> np.ndarray:
    """(H, W) float32 pattern weight in [0, 1] for a texture style."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    if style == "flat":
        return np.zeros((height, width), np.float32)
    if style == "stripes":
        wave = np.sin(2 * np.pi * along / rng.uniform(3, 30) + rng.uniform(0, 6.3))
        return (wave > 0).astype(np.float32) if rng.uniform() < 0.5 else 0.5 + 0.5 * wave
    if style == "plaid":
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        a = np.sin(2 * np.pi * along / rng.uniform(4, 24)) > rng.uniform(-0.5, 0.5)
        b = np.sin(2 * np.pi * across / rng.uniform(4, 24)) > rng.uniform(-0.5, 0.5)
        return 0.5 * a + 0.5 * b
    if style == "checks":
        cell = rng.uniform(3, 20)
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        return ((np.floor(along / cell) + np.floor(across / cell)) % 2).astype(np.float32)
    if style == "dots":
        step = rng.uniform(5, 20)
        fx, fy = (xx % step) - step / 2, (yy % step) - step / 2
        return (fx**2 + fy**2 < (rng.uniform(0.15, 0.45) * step) ** 2).astype(np.float32)
    if style == "noise":
        return _value_noise(rng, height, width)
    if style == "speckle":
        return rng.uniform(0, 1, (height, width)).astype(np.float32)
    if style == "ramp":
        return (along - along.min()) / max(float(np.ptp(along)), 1.0)
    if style == "radial":
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = np.hypot(xx - cx, yy - cy)
        return radius / max(float(radius.max()), 1.0)
    if style == "split":  # two-tone: one straight cut
        return (along > rng.uniform(along.min(), along.max())).astype(np.float32)
    raise ValueError(style)


TEXTURE_STYLES = ("flat", "stripes", "plaid", "checks", "dots", "noise", "speckle", "ramp", "radial", "split")
_STYLE_P = np.array([1.0, 1.5, 0.7, 1.0, 0.6, 2.5, 0.5, 1.0, 0.6, 0.6])
_STYLE_P /= _STYLE_P.sum()


def texture(rng: np.random.Generator, height: int, width: int, style: str | None = None,
            colours: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, str, tuple[np.ndarray, ...]]:
    """A (H, W, 3) float32 texture in [0, 255]; returns (texture, style, colours used).

    ``colours`` (2 or 3 RGB colours) and ``style`` are random when None. With three colours
    the pattern weight is mapped through a piecewise-linear ramp a → b → c.
    """
    style = style or str(rng.choice(TEXTURE_STYLES, p=_STYLE_P))
    if colours is None:
        first = _colour(rng)
        spread = rng.uniform(20, 110)
        colours = tuple([first] + [np.clip(first + rng.normal(0, spread, 3), 0, 255).astype(np.float32)
                                   for _ in range(int(rng.integers(1, 3)))])
    weight = np.clip(_weight(rng, style, height, width), 0, 1)[..., None]
    if len(colours) == 2:
        out = colours[0] * (1 - weight) + colours[1] * weight
    else:
        low, high = np.clip(2 * weight, 0, 1), np.clip(2 * weight - 1, 0, 1)
        out = colours[0] * (1 - low) + colours[1] * (low - high) + colours[2] * high
    return out.astype(np.float32), style, colours


def train_shape(rng: np.random.Generator, kind: str, height: int, width: int, size: float) -> np.ndarray:
    """A filled (H, W) bool mask of one shape of ``kind`` with characteristic radius ``size`` px."""
    canvas = np.zeros((height, width), np.uint8)
    cx, cy = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height
    centre = (int(round(cx)), int(round(cy)))
    turn = rng.uniform(0, 180)
    if kind == "ellipse":
        axes = (max(1, int(size)), max(1, int(size * rng.uniform(0.3, 1.0))))
        cv2.ellipse(canvas, centre, axes, turn, 0, 360, 1, -1)
    elif kind in ("polygon", "star", "blob"):
        if kind == "polygon":
            n = int(rng.integers(3, 10))
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            radii = size * rng.uniform(0.5, 1.0, n)
        elif kind == "star":
            n = int(rng.integers(3, 9)) * 2
            angles = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
            radii = size * np.where(np.arange(n) % 2 == 0, 1.0, rng.uniform(0.25, 0.65))
        else:
            angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
            radii = np.ones_like(angles)
            for k in range(2, 7):
                radii += rng.uniform(0, 0.35 / k**0.5) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
            radii = size * np.clip(radii, 0.2, None) / radii.max()
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles) * rng.uniform(0.5, 1.0)], 1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    elif kind in ("bar", "rectangle", "frame"):
        long = 2 * size
        short = long * (rng.uniform(0.06, 0.2) if kind == "bar" else rng.uniform(0.4, 1.0))
        box = cv2.boxPoints(((cx, cy), (long, max(short, 2.0)), turn))
        cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 1)
        if kind == "frame":
            inner = rng.uniform(0.4, 0.8)
            box = cv2.boxPoints(((cx, cy), (long * inner, short * inner), turn))
            cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 0)
    elif kind == "cross":
        thick = max(2.0, size * rng.uniform(0.2, 0.5))
        for extra in (0.0, rng.uniform(45, 135)):
            box = cv2.boxPoints(((cx, cy), (2 * size, thick), turn + extra))
            cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 1)
    elif kind == "curve":
        ctrl = np.array([cx, cy]) + rng.uniform(-2 * size, 2 * size, (4, 2))
        t = np.linspace(0, 1, 48)[:, None]
        pts = ((1 - t) ** 3 * ctrl[0] + 3 * (1 - t) ** 2 * t * ctrl[1] + 3 * (1 - t) * t**2 * ctrl[2] + t**3 * ctrl[3])
        cv2.polylines(canvas, [np.round(pts).astype(np.int32)], False, 1, _thickness(rng, size, 0.1, 0.35, 14))
    elif kind == "scribble":
        width = _thickness(rng, size, 0.05, 0.25, 12)
        cv2.polylines(canvas, [np.round(_wander(rng, cx, cy, size, np.deg2rad(turn), width)).astype(np.int32)],
                      False, 1, width)
    elif kind == "outline":
        pts = _blob_contour(rng, cx, cy, size)
        if rng.uniform() < 0.5:  # cut open: an arc of 40–90 % of the contour
            start, keep = int(rng.integers(0, len(pts))), int(len(pts) * rng.uniform(0.4, 0.9))
            pts, closed = np.roll(pts, -start, axis=0)[:keep], False
        else:
            closed = True
        cv2.polylines(canvas, [np.round(pts).astype(np.int32)], closed, 1, _thickness(rng, size, 0.08, 0.3, 14))
    elif kind == "crescent":
        r = max(2, int(size))
        cv2.circle(canvas, centre, r, 1, -1)
        shift = rng.uniform(0.3, 0.7) * r
        a = rng.uniform(0, 2 * np.pi)
        bite = (int(cx + shift * np.cos(a)), int(cy + shift * np.sin(a)))
        cv2.circle(canvas, bite, int(r * rng.uniform(0.7, 1.0)), 0, -1)
    else:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {TRAIN_SHAPE_KINDS + THIN_SHAPE_KINDS}")
    return canvas.astype(bool)


def _thickness(rng: np.random.Generator, size: float, low: float, high: float, cap: int) -> int:
    """A line width in px: ``size`` times a uniform factor in [low, high], clipped to [2, cap]."""
    return int(np.clip(size * rng.uniform(low, high), 2, cap))


def _wander(rng: np.random.Generator, x: float, y: float, size: float, heading: float, width: int) -> np.ndarray:
    """(64, 2) float (x, y) points of a stroke 3–8 × ``size`` long from (x, y); its turn rate
    drifts at random, so a stroke may run straight, bend or curl up to one and a quarter turns,
    never tighter than a radius of twice its ``width`` px (tighter or longer curls fill in to blobs)."""
    steps = 64
    step = size * rng.uniform(3, 8) / steps
    most = min(step / (2 * width), 1.0)  # radians per step at a radius of curvature of 2 × width
    rate, turned = rng.normal(0, 0.15), 0.0
    points = [(x, y)]
    for _ in range(steps - 1):
        rate = float(np.clip(rate + rng.normal(0, 0.04), -most, most))
        if abs(turned + rate) > 2.5 * np.pi:
            rate = 0.0
        turned += rate
        heading += rate
        x, y = x + step * np.cos(heading), y + step * np.sin(heading)
        points.append((x, y))
    return np.array(points)


def _blob_contour(rng: np.random.Generator, cx: float, cy: float, size: float) -> np.ndarray:
    """(96, 2) float (x, y) points of a closed random blob's boundary, radius up to ``size``."""
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    radii = np.ones_like(angles)
    for k in range(2, 6):
        radii += rng.uniform(0, 0.5 / k) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
    radii = size * np.clip(radii, 0.3, None) / radii.max()
    squash = rng.uniform(0.4, 1.0)
    return np.stack([cx + radii * np.cos(angles), cy + squash * radii * np.sin(angles)], 1)


def render_training_scene(rng: np.random.Generator, height: int = 256, width: int = 256,
                          demo_share: float = 0.3, min_visible_px: int = 40,
                          kinds: tuple[str, ...] = TRAIN_SHAPE_KINDS, photo_share: float = 0.0) -> Scene:
    """One training scene: with probability ``demo_share`` the demo generator's, else a varied one
    whose objects are drawn from ``kinds``. With probability ``photo_share`` the background, and
    independently each object's fill, is a crop of a natural photo (core.synthetic.photo_textures);
    a camouflaged object on a photo background is filled from another crop of the same photo.

    Objects whose visible part has fewer than ``min_visible_px`` pixels are dropped (the
    scene may then be empty; callers draw again).
    """
    if rng.uniform() < demo_share:
        return render_scene(rng, height, width)
    scale = min(height, width)
    photo_source = None
    if photo_share > 0 and rng.uniform() < photo_share:
        background, photo_source = photo_crop(rng, height, width)
    else:
        background, bg_style, bg_colours = texture(rng, height, width)
    image = background.copy()
    count = int(rng.choice(np.arange(1, 11), p=np.array([4, 5, 5, 4, 3, 2, 2, 1, 1, 1]) / 28))
    picked = [str(k) for k in rng.choice(kinds, size=count)]
    shapes = []
    for kind in picked:
        size = float(np.exp(rng.uniform(np.log(0.04), np.log(0.45)))) * scale
        shape = train_shape(rng, kind, height, width, size)
        camouflage = rng.uniform()
        if photo_source is not None and camouflage < 0.3:  # another crop of the background's photo
            fill = photo_crop(rng, height, width, photo_source)[0]
        elif photo_share > 0 and rng.uniform() < photo_share:
            fill = photo_crop(rng, height, width)[0]
        elif photo_source is not None:  # a procedural texture on a photo
            fill = texture(rng, height, width)[0]
        elif camouflage < 0.15:  # the background's colours, another pattern
            fill = texture(rng, height, width, colours=bg_colours)[0]
        elif camouflage < 0.3:  # the background's pattern, other colours
            fill = texture(rng, height, width, style=bg_style)[0]
        else:
            fill = texture(rng, height, width)[0]
        image[shape] = fill[shape] * rng.uniform(0.8, 1.15)
        shapes.append(shape)
    if rng.uniform() < 0.5:  # smooth global shading
        shade = cv2.resize(rng.uniform(0.7, 1.2, (3, 3)).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)
        image *= shade[..., None]
    image += rng.normal(0, rng.uniform(0, 12), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    blur = rng.uniform()
    if blur < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    elif blur < 0.4:
        image = cv2.GaussianBlur(image, (5, 5), 0)

    return visible_scene(image, picked, shapes, min_visible_px)


def render_thin_training_scene(rng: np.random.Generator, height: int = 256, width: int = 256) -> Scene:
    """``render_training_scene`` with the thin kinds (THIN_SHAPE_KINDS) among the shapes."""
    return render_training_scene(rng, height, width, kinds=TRAIN_SHAPE_KINDS + THIN_SHAPE_KINDS)


PHOTO_SHARE = 0.4


def render_photo_training_scene(rng: np.random.Generator, height: int = 256, width: int = 256) -> Scene:
    """``render_thin_training_scene`` with natural-photo textures (``PHOTO_SHARE`` of backgrounds and fills)."""
    return render_training_scene(rng, height, width, kinds=TRAIN_SHAPE_KINDS + THIN_SHAPE_KINDS,
                                 photo_share=PHOTO_SHARE)
