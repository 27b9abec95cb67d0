"""Procedural scenes with exact ground-truth masks.

The shipped tiny SAM is trained on these scenes and the demo dataset is drawn from them, so
nothing has to be downloaded. A scene is a textured or gradient background with several
textured objects (ellipses, polygons, stars, thin bars, rectangles) painted back to front;
later objects occlude earlier ones, and each object's mask is its *visible* part.

All randomness comes from the ``numpy.random.Generator`` passed in, so a seed fixes a scene.
Arrays follow numpy's (row, col) order; sizes are given as (height, width).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHAPE_KINDS = ("ellipse", "polygon", "star", "bar", "rectangle")


@dataclass
class Scene:
    """One rendered scene.

    image: (H, W, 3) uint8 RGB.
    masks: list of (H, W) bool arrays, the visible part of each object, back to front.
    kinds: the shape kind of each object, same order as ``masks``.
    shapes: list of (H, W) bool arrays, each object's whole shape before occlusion.
    """

    image: np.ndarray
    masks: list[np.ndarray]
    kinds: list[str]
    shapes: list[np.ndarray]


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random (H, W, 3) float32 texture in [0, 255]: flat, stripes, checks, blotches or ramp."""
    colour_a = rng.uniform(0, 255, size=3).astype(np.float32)
    colour_b = np.clip(colour_a + rng.normal(0, 70, size=3), 0, 255).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    style = rng.integers(0, 5)
    if style == 0:  # flat colour
        weight = np.zeros((height, width), np.float32)
    elif style == 1:  # stripes
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(4, 24)
        phase = xx * np.cos(angle) + yy * np.sin(angle)
        weight = 0.5 + 0.5 * np.sin(2 * np.pi * phase / period)
    elif style == 2:  # checks
        cell = int(rng.integers(4, 16))
        weight = (((yy // cell) + (xx // cell)) % 2).astype(np.float32)
    elif style == 3:  # blotches: upsampled low-resolution noise
        small = rng.uniform(0, 1, size=(int(rng.integers(3, 9)),) * 2).astype(np.float32)
        weight = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    else:  # linear ramp
        angle = rng.uniform(0, 2 * np.pi)
        ramp = xx * np.cos(angle) + yy * np.sin(angle)
        weight = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    weight = np.clip(weight, 0, 1)[..., None]
    return colour_a * (1 - weight) + colour_b * weight


def _shape_mask(rng: np.random.Generator, kind: str, height: int, width: int) -> np.ndarray:
    """A filled (H, W) bool mask of one shape of the given kind at a random place and size."""
    canvas = np.zeros((height, width), np.uint8)
    scale = min(height, width)
    cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
    if kind == "ellipse":
        axes = (int(rng.uniform(0.06, 0.25) * scale), int(rng.uniform(0.06, 0.25) * scale))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    elif kind in ("polygon", "star"):
        n = int(rng.integers(3, 9)) if kind == "polygon" else int(rng.integers(4, 8)) * 2
        radius = rng.uniform(0.08, 0.25) * scale
        angles = np.sort(rng.uniform(0, 2 * np.pi, n)) if kind == "polygon" else (
            np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi))
        radii = radius * (rng.uniform(0.6, 1.0, n) if kind == "polygon"
                          else np.where(np.arange(n) % 2 == 0, 1.0, rng.uniform(0.35, 0.6)))
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    elif kind in ("bar", "rectangle"):
        if kind == "bar":
            size = (rng.uniform(0.3, 0.7) * scale, rng.uniform(0.025, 0.06) * scale)
        else:
            size = (rng.uniform(0.12, 0.4) * scale, rng.uniform(0.12, 0.4) * scale)
        box = cv2.boxPoints(((cx, cy), size, rng.uniform(0, 180)))
        cv2.fillPoly(canvas, [np.round(box).astype(np.int32)], 1)
    else:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {SHAPE_KINDS}")
    return canvas.astype(bool)


def render_scene(
    rng: np.random.Generator,
    height: int = 256,
    width: int = 256,
    n_objects: int | None = None,
    kinds: tuple[str, ...] | None = None,
    min_visible_px: int = 150,
) -> Scene:
    """Render one scene of ``n_objects`` (random 2–5 when None) textured shapes.

    kinds: the kinds to draw, in order, instead of random ones (its length then sets the count).
    Objects whose visible part ends up smaller than ``min_visible_px`` pixels are dropped.
    Returns a :class:`Scene` with a uint8 image and bool masks of shape (height, width).
    """
    if kinds is None:
        count = int(rng.integers(2, 6)) if n_objects is None else n_objects
        kinds = tuple(rng.choice(SHAPE_KINDS, size=count))
    image = _texture(rng, height, width)
    shapes = [_shape_mask(rng, kind, height, width) for kind in kinds]
    for shape in shapes:
        image[shape] = _texture(rng, height, width)[shape]
        # a soft shade so objects are not only separated by texture
        image[shape] *= rng.uniform(0.75, 1.15)
    image += rng.normal(0, rng.uniform(2, 10), size=image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.5:
        image = cv2.GaussianBlur(image, (3, 3), 0)

    return visible_scene(image, kinds, shapes, min_visible_px)


def visible_scene(image: np.ndarray, kinds, shapes: list[np.ndarray], min_visible_px: int) -> Scene:
    """The scene of objects painted back to front: each mask is the (H, W) bool part of its shape
    that no later shape covers; objects with fewer than ``min_visible_px`` visible pixels are dropped."""
    kept: list[tuple[np.ndarray, str, np.ndarray]] = []
    covered_later = np.zeros(image.shape[:2], bool)
    for kind, shape in zip(reversed(kinds), reversed(shapes)):
        part = shape & ~covered_later
        covered_later |= shape
        if part.sum() >= min_visible_px:
            kept.append((part, str(kind), shape))
    kept.reverse()
    return Scene(image=image, masks=[k[0] for k in kept], kinds=[k[1] for k in kept], shapes=[k[2] for k in kept])
