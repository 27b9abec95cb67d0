"""The procedural scene generator."""

from __future__ import annotations

import numpy as np

from core.synthetic.scenes import render_scene


def test_same_seed_same_scene_and_masks_are_disjoint_visible_parts():
    a = render_scene(np.random.default_rng(5), 120, 160, n_objects=5)
    b = render_scene(np.random.default_rng(5), 120, 160, n_objects=5)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape == (120, 160, 3) and a.image.dtype == np.uint8
    stacked = np.stack(a.masks).astype(int)
    assert stacked.sum(0).max() <= 1  # visible parts never overlap
    for mask, shape in zip(a.masks, a.shapes):
        assert (mask <= shape).all() and mask.sum() >= 150


def test_requested_kinds_are_drawn_in_order():
    scene = render_scene(np.random.default_rng(1), 200, 200, kinds=("bar", "star"), min_visible_px=0)
    assert scene.kinds == ["bar", "star"]
    assert scene.shapes[0].sum() > 0 and scene.shapes[1].sum() > 0
