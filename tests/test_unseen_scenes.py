"""The held-out ("unseen") scene family used to measure the tiny SAM's generalisation."""

from __future__ import annotations

import numpy as np

from core.synthetic.unseen_scenes import UNSEEN_SHAPES, render_unseen_scene, unseen_scene, unseen_shape


def test_same_index_same_scene_and_other_indices_differ():
    a, b, c = unseen_scene(3), unseen_scene(3), unseen_scene(4)
    np.testing.assert_array_equal(a.image, b.image)
    assert len(a.masks) == len(b.masks) and all((m == n).all() for m, n in zip(a.masks, b.masks))
    assert a.image.shape == (240, 320, 3) and a.image.dtype == np.uint8
    assert not np.array_equal(a.image, c.image)


def test_masks_are_non_empty_visible_parts_after_occlusion():
    occluded = 0
    for index in range(12):
        scene = unseen_scene(index)
        assert scene.masks and all(m.dtype == bool and m.sum() >= 60 for m in scene.masks)
        assert np.stack(scene.masks).astype(int).sum(0).max() <= 1  # visible parts never overlap
        for k, (mask, shape) in enumerate(zip(scene.masks, scene.shapes)):
            later = np.zeros_like(shape)
            for other in scene.shapes[k + 1:]:
                later |= other
            np.testing.assert_array_equal(mask, shape & ~later)  # the visible part, exactly
            occluded += int(mask.sum() < shape.sum())
    assert occluded >= 3  # occlusion does happen in these scenes


def test_counts_sizes_and_kinds_vary():
    scenes = [unseen_scene(index) for index in range(20)]
    areas = [int(m.sum()) for s in scenes for m in s.masks]
    assert max(areas) > 20 * min(areas)
    assert len({len(s.masks) for s in scenes}) >= 4
    assert len({k for s in scenes for k in s.kinds}) >= 6


def test_every_shape_kind_draws_something_and_counts_are_honoured():
    rng = np.random.default_rng(0)
    for kind in UNSEEN_SHAPES:
        assert unseen_shape(rng, kind, 120, 160, 25.0).sum() > 30, kind
    scene = render_unseen_scene(np.random.default_rng(1), 120, 160, n_objects=8, min_visible_px=0)
    assert len(scene.masks) == 8
