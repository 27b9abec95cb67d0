"""Training examples for the tiny SAM: a scene, the objects to prompt, and their first clicks.

Used by packaging/train_tiny_sam.py; kept here (importable, no torch) so that worker processes
can render examples in parallel. ``scenes`` picks the generator: "demo" (core.synthetic.scenes,
the demo's own, as the first stages were trained), "varied" (core.synthetic.training_scenes,
which mixes the demo generator in), "varied_thin" (the varied one with thin strokes and outlines)
or "varied_photo" (varied_thin with natural-photo textures, core.synthetic.photo_textures; needs
scikit-image).
"""

from __future__ import annotations

import numpy as np

from core.prompting.click_simulation import most_interior_point, random_interior_point
from core.synthetic.scenes import render_scene
from core.synthetic.training_scenes import (render_photo_training_scene, render_thin_training_scene,
                                            render_training_scene)

SCENE_GENERATORS = {"demo": render_scene, "varied": render_training_scene, "varied_thin": render_thin_training_scene,
                    "varied_photo": render_photo_training_scene}


def sample_scene_size(rng: np.random.Generator, side: int) -> tuple[int, int]:
    """(height, width) with the longest side ``side`` and the other in [0.6, 1]·side."""
    short = int(rng.integers(int(0.6 * side), side + 1))
    return (side, short) if rng.uniform() < 0.5 else (short, side)


def sample_example(rng: np.random.Generator, side: int, prompts_per_image: int, scenes: str = "demo"):
    """One training image and its prompts, drawn from ``rng``.

    Returns (image (H, W, 3) uint8 with longest side ``side``, truths (K, side, side) float32
    padded like SAM's input, first clicks (K, 2) int (x, y), objects (side, side) int16: every
    object's visible part, 0 background, k ≥ 1 the scene's k-th object, -1 padding).
    """
    render = SCENE_GENERATORS[scenes]
    height, width = sample_scene_size(rng, side)
    scene = render(rng, height, width)
    while not scene.masks:
        scene = render(rng, height, width)
    picks = rng.integers(0, len(scene.masks), size=prompts_per_image)
    truth = np.zeros((prompts_per_image, side, side), np.float32)
    objects = np.full((side, side), -1, np.int16)
    objects[:height, :width] = 0
    for number, mask in enumerate(scene.masks, start=1):
        objects[:height, :width][mask] = number
    first = []
    for k, index in enumerate(picks):
        mask = scene.masks[index]
        truth[k, :height, :width] = mask
        first.append(most_interior_point(mask) if rng.uniform() < 0.5
                     else random_interior_point(rng, mask, min_depth=2.0))
    return scene.image, truth, np.array(first), objects


def sample_example_seeded(args: tuple):
    """``sample_example`` with its own generator seeded by (seed, step, index): worker-safe.

    args: (seed, step, index, side, prompts_per_image, scenes).
    """
    seed, step, index, side, prompts_per_image, scenes = args
    return sample_example(np.random.default_rng([seed, step, index]), side, prompts_per_image, scenes)
