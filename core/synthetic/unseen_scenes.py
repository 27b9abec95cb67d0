"""A held-out scene family the tiny SAM never trains on: it measures generalisation.

Written apart from the training generators (core.synthetic.scenes, core.synthetic.training_scenes)
and sharing none of their code or parameters. Textures: 1/f^β ("pink") noise from the Fourier
domain mapped through colour pairs, marble veins, wavy stripes, cross-hatching, four-corner
bilinear gradients, grainy flats. Shapes: blobs from thresholded smooth noise, thin curved
strokes (sine waves, spirals; 3–8 px wide), arcs, rings, letters and digits (cv2.putText), superellipses.
1–8 objects per scene at sizes from a few pixels across to half the image, painted back to
front, so later objects occlude earlier ones; each mask is the object's visible part.

``unseen_scene(index)`` draws scene ``index`` from its own generator seeded by
(UNSEEN_SEED, index): a scene does not depend on how many are drawn.
"""

from __future__ import annotations

import string

import cv2
import numpy as np

from core.synthetic.scenes import Scene

UNSEEN_SEED = 9173
UNSEEN_SHAPES = ("noise_blob", "stroke", "spiral", "arc", "ring", "letter", "superellipse")
UNSEEN_TEXTURES = ("pink_noise", "marble", "wavy_stripes", "hatch", "bilinear", "grain")
# how often each shape is drawn: thin ones (stroke, spiral, arc) are a third of the objects
UNSEEN_SHAPE_P = (0.22, 0.13, 0.08, 0.11, 0.14, 0.16, 0.16)


def _pink_noise(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """(H, W) float32 noise with power spectrum 1/f^beta, scaled to [0, 1]."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius ** (beta / 2)
    spectrum[0, 0] = 0
    field = np.fft.irfft2(spectrum, s=(height, width)).astype(np.float32)
    return (field - field.min()) / max(float(np.ptp(field)), 1e-9)


def _colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB colours (float32) from HSV: a hue, and a second colour at a random hue shift."""
    hue = rng.uniform(0, 180)
    hsv = np.array([[[hue, rng.uniform(30, 255), rng.uniform(40, 255)],
                     [(hue + rng.choice([15, 40, 90])) % 180, rng.uniform(30, 255), rng.uniform(40, 255)]]], np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    return rgb[0], rgb[1]


def unseen_texture(rng: np.random.Generator, height: int, width: int, kind: str | None = None) -> np.ndarray:
    """A (H, W, 3) float32 texture in [0, 255] of one of ``UNSEEN_TEXTURES`` (random when None)."""
    kind = kind or str(rng.choice(UNSEEN_TEXTURES))
    first, second = _colour_pair(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "pink_noise":
        weight = _pink_noise(rng, height, width, rng.uniform(1.6, 3.2))
    elif kind == "marble":
        turbulence = _pink_noise(rng, height, width, 2.5)
        theta = rng.uniform(0, np.pi)
        weight = 0.5 + 0.5 * np.sin((xx * np.cos(theta) + yy * np.sin(theta)) / rng.uniform(6, 25)
                                    + rng.uniform(4, 12) * turbulence)
    elif kind == "wavy_stripes":
        wobble = rng.uniform(2, 10) * np.sin(xx / rng.uniform(8, 40))
        weight = ((yy + wobble) % (period := rng.uniform(6, 22)) < period * rng.uniform(0.3, 0.7)).astype(np.float32)
        if rng.uniform() < 0.5:
            weight = weight.T if weight.shape[0] == weight.shape[1] else np.flipud(weight)
    elif kind == "hatch":
        canvas = np.zeros((height, width), np.uint8)
        gap = int(rng.integers(5, 14))
        for offset in range(-height - width, height + width, gap):
            cv2.line(canvas, (offset, 0), (offset + height, height), 1, 1)
            if rng.uniform() < 0.5:
                cv2.line(canvas, (offset, height), (offset + height, 0), 1, 1)
        weight = canvas.astype(np.float32)
    elif kind == "bilinear":
        corners = [_colour_pair(rng)[0] for _ in range(4)]
        u, v = (xx / max(width - 1, 1))[..., None], (yy / max(height - 1, 1))[..., None]
        return ((1 - u) * (1 - v) * corners[0] + u * (1 - v) * corners[1]
                + (1 - u) * v * corners[2] + u * v * corners[3]).astype(np.float32)
    elif kind == "grain":
        weight = np.clip(rng.normal(0.5, 0.15, (height, width)), 0, 1).astype(np.float32)
    else:
        raise ValueError(f"unknown texture {kind!r}; expected one of {UNSEEN_TEXTURES}")
    weight = weight[..., None]
    return (first * (1 - weight) + second * weight).astype(np.float32)


def unseen_shape(rng: np.random.Generator, kind: str, height: int, width: int, size: float) -> np.ndarray:
    """A (H, W) bool mask of one shape of ``kind``, about ``size`` px in radius, at a random place."""
    canvas = np.zeros((height, width), np.uint8)
    cx, cy = int(rng.uniform(0, width)), int(rng.uniform(0, height))
    r = max(3, int(size))
    if kind == "noise_blob":
        box = 2 * r + 1
        field = cv2.GaussianBlur(rng.normal(size=(box, box)).astype(np.float32), (0, 0), max(r / 3, 1.0))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        field = field / (field.std() + 1e-9) - 2.5 * (xx**2 + yy**2) / r**2  # keep it compact
        blob = (field > np.quantile(field, 0.65)).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(blob)
        if n > 1:
            blob = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
        y0, x0 = cy - r, cx - r
        ys, xs = slice(max(y0, 0), min(y0 + box, height)), slice(max(x0, 0), min(x0 + box, width))
        canvas[ys, xs] = blob[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
    elif kind in ("stroke", "spiral"):
        t = np.linspace(0, 1, 120)
        if kind == "stroke":
            angle = rng.uniform(0, np.pi)
            along, across = (t - 0.5) * 4 * r, r * rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(0.5, 2.5) * t)
            xs, ys = along * np.cos(angle) - across * np.sin(angle), along * np.sin(angle) + across * np.cos(angle)
        else:
            turns = rng.uniform(1.0, 2.5)
            xs, ys = r * t * np.cos(2 * np.pi * turns * t), r * t * np.sin(2 * np.pi * turns * t)
        points = np.stack([cx + xs, cy + ys], 1).round().astype(np.int32)
        cv2.polylines(canvas, [points], False, 1, int(rng.integers(3, 9)))
    elif kind == "arc":
        start = rng.uniform(0, 360)
        cv2.ellipse(canvas, (cx, cy), (r, int(r * rng.uniform(0.5, 1))), rng.uniform(0, 180), start,
                    start + rng.uniform(90, 270), 1, int(max(3, r * rng.uniform(0.1, 0.35))))
    elif kind == "ring":
        cv2.circle(canvas, (cx, cy), r, 1, int(max(3, r * rng.uniform(0.15, 0.5))))
    elif kind == "letter":
        glyph = str(rng.choice(list(string.ascii_uppercase + string.digits)))
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX,
                               cv2.FONT_HERSHEY_COMPLEX]))
        scale = 2 * r / 22.0  # Hershey capitals are about 22 px tall at scale 1
        thickness = int(max(2, scale * rng.uniform(1.5, 4)))
        (w, h), _ = cv2.getTextSize(glyph, font, scale, thickness)
        cv2.putText(canvas, glyph, (cx - w // 2, cy + h // 2), font, scale, 1, thickness, cv2.LINE_8)
    elif kind == "superellipse":
        exponent = rng.choice([rng.uniform(0.6, 0.9), rng.uniform(2.5, 5.0)])
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / r
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / (r * rng.uniform(0.4, 1.0))
        canvas[np.abs(u) ** exponent + np.abs(v) ** exponent <= 1] = 1
    else:
        raise ValueError(f"unknown shape {kind!r}; expected one of {UNSEEN_SHAPES}")
    return canvas.astype(bool)


def render_unseen_scene(rng: np.random.Generator, height: int = 240, width: int = 320,
                        n_objects: int | None = None, min_visible_px: int = 60) -> Scene:
    """One scene of ``n_objects`` (random 1–8) objects; objects whose visible part has fewer than
    ``min_visible_px`` pixels are dropped. Returns a :class:`Scene` (image uint8, bool masks)."""
    count = int(rng.integers(1, 9)) if n_objects is None else n_objects
    scale = min(height, width)
    image = unseen_texture(rng, height, width)
    kinds, shapes = [], []
    for _ in range(count):
        kind = str(rng.choice(UNSEEN_SHAPES, p=UNSEEN_SHAPE_P))
        size = scale * float(np.exp(rng.uniform(np.log(0.035), np.log(0.5))))
        shape = unseen_shape(rng, kind, height, width, size)
        if not shape.any():
            continue
        fill = unseen_texture(rng, height, width)
        image[shape] = fill[shape]
        kinds.append(kind)
        shapes.append(shape)
    if rng.uniform() < 0.5:  # vignette
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        fall = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
        image *= (1 - rng.uniform(0.1, 0.4) * fall)[..., None]
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.0))
    image += rng.normal(0, rng.uniform(1, 6), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)

    masks, kept_kinds, kept_shapes = [], [], []
    covered_later = np.zeros((height, width), bool)
    for kind, shape in zip(reversed(kinds), reversed(shapes)):
        visible = shape & ~covered_later
        covered_later |= shape
        if visible.sum() >= min_visible_px:
            masks.append(visible)
            kept_kinds.append(kind)
            kept_shapes.append(shape)
    return Scene(image=image, masks=masks[::-1], kinds=kept_kinds[::-1], shapes=kept_shapes[::-1])


def unseen_scene(index: int, seed: int = UNSEEN_SEED, height: int = 240, width: int = 320) -> Scene:
    """Scene ``index`` of the held-out family, drawn again while it has no object (fixed by the seed)."""
    rng = np.random.default_rng([seed, index])
    scene = render_unseen_scene(rng, height, width)
    while not scene.masks:
        scene = render_unseen_scene(rng, height, width)
    return scene
