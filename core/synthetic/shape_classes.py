"""Labelled procedural images for the demo classifier: one shape per image, the class is the shape.

In-distribution classes (:data:`CLASSES`): disc, ring, square, triangle, cross, star. Each image
draws its shape at a random position, size, rotation and colour, filled with a random texture
(flat, stripes, checks, gradient, blotches), over a textured background of its own, with 0–2
small distractor specks, Gaussian noise and sometimes a blur. Texture and colour vary within a
class, so only the shape tells the classes apart and an explanation has to point at the shape.

Out-of-distribution classes (:data:`OOD_CLASSES`): crescent, hexagon, arrow, heart. The model
never sees them in training; half of them are also filled with textures it never saw (dots,
concentric rings). For trust evaluation (OOD detection, misprediction detection).

All randomness comes from the ``numpy.random.Generator`` passed in, so a seed fixes an image.
Images are (S, S, 3) uint8 RGB; masks (S, S) bool, True on the shape (its visible part: the
ring's hole and the crescent's bite are False). Points are (x, y); arrays (row, col).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASSES = ("disc", "ring", "square", "triangle", "cross", "star")
OOD_CLASSES = ("crescent", "hexagon", "arrow", "heart")
TEXTURES = ("flat", "stripes", "checks", "gradient", "blotches")
OOD_TEXTURES = ("dots", "rings")

DEFAULT_SIZE = 64
_SUPERSAMPLE = 4  # shapes are drawn at 4× and area-resized: anti-aliased edges
_MIN_CONTRAST = 60.0  # least Euclidean distance between the object's and background's mean RGB


@dataclass
class ShapeImage:
    """One labelled image: image (S, S, 3) uint8 RGB, mask (S, S) bool (the shape's pixels),
    class_name (a name from CLASSES or OOD_CLASSES), texture (the shape's fill)."""

    image: np.ndarray
    mask: np.ndarray
    class_name: str
    texture: str


def texture(rng: np.random.Generator, style: str, size: int, colour: np.ndarray | None = None) -> np.ndarray:
    """An (S, S, 3) float32 texture in [0, 255] of the named ``style`` (TEXTURES or OOD_TEXTURES)
    between two colours: ``colour`` (random when None) and a random second one near it."""
    colour_a = rng.uniform(0, 255, size=3).astype(np.float32) if colour is None else colour.astype(np.float32)
    colour_b = np.clip(colour_a + rng.normal(0, 70, size=3), 0, 255).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    if style == "flat":
        weight = np.zeros((size, size), np.float32)
    elif style == "stripes":
        period = rng.uniform(3, 10) * size / 64
        weight = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif style == "checks":
        cell = max(2, int(rng.integers(3, 8) * size / 64))
        weight = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)
    elif style == "gradient":
        ramp = xx * np.cos(2 * angle) + yy * np.sin(2 * angle)
        weight = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    elif style == "blotches":
        small = rng.uniform(0, 1, size=(int(rng.integers(3, 7)),) * 2).astype(np.float32)
        weight = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    elif style == "dots":
        period = rng.uniform(5, 9) * size / 64
        u, v = (xx % period) - period / 2, (yy % period) - period / 2
        weight = (u * u + v * v < (0.3 * period) ** 2).astype(np.float32)
    elif style == "rings":
        cx, cy = rng.uniform(0, size, 2)
        weight = 0.5 + 0.5 * np.sin(2 * np.pi * np.hypot(xx - cx, yy - cy) / (rng.uniform(4, 8) * size / 64))
    else:
        raise ValueError(f"unknown texture {style!r}; expected one of {TEXTURES + OOD_TEXTURES}")
    weight = np.clip(weight, 0, 1)[..., None]
    return colour_a * (1 - weight) + colour_b * weight


def _regular_polygon(n: int, radius: float, phase: float) -> np.ndarray:
    """(n, 2) vertices (x, y) of a regular n-gon around the origin."""
    angles = phase + np.arange(n) * 2 * np.pi / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], 1)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """(n, 2) points (x, y) rotated by ``angle`` radians around the origin."""
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _draw_shape(rng: np.random.Generator, kind: str, canvas: np.ndarray, centre: np.ndarray, radius: float) -> None:
    """Fill shape ``kind`` with value 1 into the uint8 ``canvas`` (already supersampled):
    centred at ``centre`` (x, y), about ``radius`` from centre to its outermost point."""
    angle = rng.uniform(0, 2 * np.pi)

    def poly(points: np.ndarray, value: int = 1) -> None:
        pts = np.round((_rotate(points, angle) + centre) * 16).astype(np.int32)  # 4 fractional bits
        cv2.fillPoly(canvas, [pts], value, lineType=cv2.LINE_8, shift=4)

    def circle(offset: np.ndarray, r: float, value: int) -> None:
        x, y = np.round((centre + _rotate(offset[None], angle)[0]) * 16).astype(int)
        cv2.circle(canvas, (int(x), int(y)), int(round(r * 16)), value, -1, lineType=cv2.LINE_8, shift=4)

    zero = np.zeros(2)
    if kind == "disc":
        circle(zero, radius, 1)
    elif kind == "ring":
        circle(zero, radius, 1)
        circle(zero, radius * rng.uniform(0.45, 0.65), 0)
    elif kind == "square":
        poly(_regular_polygon(4, radius, np.pi / 4))
    elif kind == "triangle":
        poly(_regular_polygon(3, radius, 0.0))
    elif kind == "cross":
        half_width = radius * rng.uniform(0.2, 0.3)
        poly(np.array([[-radius, -half_width], [radius, -half_width], [radius, half_width], [-radius, half_width]]))
        poly(np.array([[-half_width, -radius], [half_width, -radius], [half_width, radius], [-half_width, radius]]))
    elif kind == "star":
        n = int(rng.integers(5, 7))
        outer = _regular_polygon(n, radius, 0.0)
        inner = _regular_polygon(n, radius * rng.uniform(0.38, 0.5), np.pi / n)
        poly(np.stack([outer, inner], 1).reshape(-1, 2))
    elif kind == "crescent":
        circle(zero, radius, 1)
        circle(np.array([radius * rng.uniform(0.35, 0.55), 0.0]), radius * rng.uniform(0.75, 0.9), 0)
    elif kind == "hexagon":
        poly(_regular_polygon(6, radius, 0.0))
    elif kind == "arrow":
        shaft, head = radius * rng.uniform(0.15, 0.22), radius * rng.uniform(0.45, 0.6)
        neck = radius * rng.uniform(0.0, 0.3)
        poly(np.array([[-radius, -shaft], [neck, -shaft], [neck, -head], [radius, 0.0],
                       [neck, head], [neck, shaft], [-radius, shaft]]))
    elif kind == "heart":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        poly(np.stack([x, y + 2.5], 1) * radius / 17)
    else:
        raise ValueError(f"unknown shape {kind!r}; expected one of {CLASSES + OOD_CLASSES}")


def shape_alpha(rng: np.random.Generator, kind: str, size: int, centre: np.ndarray, radius: float) -> np.ndarray:
    """(S, S) float32 coverage in [0, 1] of shape ``kind`` at ``centre`` (x, y) and ``radius``
    (pixels), anti-aliased by drawing at 4× and area-averaging."""
    canvas = np.zeros((size * _SUPERSAMPLE, size * _SUPERSAMPLE), np.uint8)
    _draw_shape(rng, kind, canvas, (centre + 0.5) * _SUPERSAMPLE - 0.5, radius * _SUPERSAMPLE)
    return cv2.resize(canvas.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random RGB colour at least _MIN_CONTRAST from ``background``'s mean colour."""
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(50):
        colour = rng.uniform(0, 255, size=3)
        if np.linalg.norm(colour - mean) >= _MIN_CONTRAST:
            return colour
    return 255.0 - mean  # the complement, when 50 draws were all too close


def render_shape_image(rng: np.random.Generator, class_name: str, size: int = DEFAULT_SIZE) -> ShapeImage:
    """One (S, S, 3) image of a ``class_name`` shape (CLASSES or OOD_CLASSES) with its mask.

    The shape's radius is 20–40 % of S and it lies (almost) wholly inside the image; OOD shapes
    take an unseen texture (OOD_TEXTURES) half the time, otherwise a training one.
    """
    if class_name not in CLASSES + OOD_CLASSES:
        raise ValueError(f"unknown class {class_name!r}; expected one of {CLASSES + OOD_CLASSES}")
    background = texture(rng, str(rng.choice(TEXTURES)), size)
    image = background.copy()
    for _ in range(int(rng.choice(3, p=[0.5, 0.3, 0.2]))):  # small specks the model must ignore
        speck = shape_alpha(rng, "disc", size, rng.uniform(0, size, 2), rng.uniform(0.03, 0.07) * size)
        image += speck[..., None] * (texture(rng, "flat", size) - image)
    radius = rng.uniform(0.2, 0.4) * size
    centre = rng.uniform(0.9 * radius, size - 0.9 * radius, 2)
    alpha = shape_alpha(rng, class_name, size, centre, radius)
    unseen_fill = class_name in OOD_CLASSES and rng.uniform() < 0.5
    style = str(rng.choice(OOD_TEXTURES if unseen_fill else TEXTURES))
    fill = texture(rng, style, size, _contrasting_colour(rng, background)) * rng.uniform(0.8, 1.1)
    image += alpha[..., None] * (fill - image)
    image += rng.normal(0, rng.uniform(1, 12), size=image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.3:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    return ShapeImage(image=image, mask=alpha > 0.5, class_name=class_name, texture=style)


def sample_batch(rng: np.random.Generator, count: int, classes: tuple[str, ...] = CLASSES,
                 size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images of uniformly random classes: (images (N, S, S, 3) uint8, labels (N,)
    int64 indices into ``classes``)."""
    labels = rng.integers(0, len(classes), size=count)
    images = np.stack([render_shape_image(rng, classes[label], size).image for label in labels])
    return images, labels.astype(np.int64)


def balanced_set(seed: int, per_class: int, classes: tuple[str, ...] = CLASSES,
                 size: int = DEFAULT_SIZE) -> list[ShapeImage]:
    """``per_class`` images of every class, class by class, each from its own generator seeded
    by (seed, class index, image index): the same seed gives the same set, and asking for more
    images per class keeps the first ones."""
    return [render_shape_image(np.random.default_rng([seed, c, i]), name, size)
            for c, name in enumerate(classes) for i in range(per_class)]
