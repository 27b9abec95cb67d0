"""The varied training generator and its thin-structure variant (core.synthetic.training_scenes)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.synthetic.scenes import SHAPE_KINDS
from core.synthetic.training_examples import SCENE_GENERATORS, sample_example
from core.synthetic.training_scenes import (THIN_SHAPE_KINDS, TRAIN_SHAPE_KINDS, render_thin_training_scene,
                                            render_training_scene, train_shape)


def thickness(mask: np.ndarray) -> float:
    """Twice the largest distance from the shape's inside to its outside, in px."""
    inside = np.pad(mask, 1).astype(np.uint8)
    return 2 * float(cv2.distanceTransform(inside, cv2.DIST_L2, 5).max())


@pytest.mark.parametrize("kind", THIN_SHAPE_KINDS)
def test_thin_kinds_are_long_and_narrow(kind):
    rng = np.random.default_rng(3)
    for _ in range(20):
        shape = train_shape(rng, kind, 256, 256, size=60.0)
        assert shape.any()
        assert thickness(shape) <= 2 * 14  # widths are capped at 14 px; where a stroke crosses itself it is wider
        ys, xs = np.nonzero(shape)
        extent = max(np.ptp(xs), np.ptp(ys))
        assert extent >= 1.5 * thickness(shape)  # a stroke, not a dot


def test_the_varied_generator_draws_no_thin_kinds_and_the_thin_one_does():
    varied, thin = set(), set()
    for seed in range(40):
        varied.update(render_training_scene(np.random.default_rng(seed), 160, 200).kinds)
        thin.update(render_thin_training_scene(np.random.default_rng(seed), 160, 200).kinds)
    assert not varied & set(THIN_SHAPE_KINDS)
    assert set(THIN_SHAPE_KINDS) <= thin
    assert thin - set(THIN_SHAPE_KINDS) <= set(TRAIN_SHAPE_KINDS) | set(SHAPE_KINDS)  # the demo generator's too


def test_an_unknown_kind_is_named_in_the_error():
    with pytest.raises(ValueError, match="squiggle"):
        train_shape(np.random.default_rng(0), "squiggle", 64, 64, 10.0)


@pytest.mark.parametrize("scenes", sorted(SCENE_GENERATORS))
def test_every_generator_gives_training_examples_with_the_same_seed_the_same(scenes):
    first = sample_example(np.random.default_rng(11), 96, 2, scenes)
    again = sample_example(np.random.default_rng(11), 96, 2, scenes)
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    image, truths, clicks, objects = first
    assert image.dtype == np.uint8 and max(image.shape[:2]) == 96
    for truth, (x, y) in zip(truths, clicks):
        assert truth[y, x] == 1  # the first click lies on its object
