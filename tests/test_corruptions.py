"""Corruptions: severity is monotone, output is deterministic, inputs are checked."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.corruptions import CORRUPTIONS, LEVELS, corrupt, psnr
from core.synthetic.scenes import render_scene


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return render_scene(np.random.default_rng(7), 96, 128).image


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_psnr_falls_with_severity(image, name):
    values = [psnr(image, corrupt(image, name, level, seed=1)) for level in range(1, LEVELS + 1)]
    assert all(a > b for a, b in zip(values, values[1:])), values
    assert values[0] < 60


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_deterministic_for_a_seed(image, name):
    first = corrupt(image, name, 3, seed=5)
    assert first.shape == image.shape and first.dtype == np.uint8
    assert np.array_equal(first, corrupt(image, name, 3, seed=5))
    assert np.array_equal(image, render_scene(np.random.default_rng(7), 96, 128).image)  # input untouched


def test_noise_depends_on_the_seed(image):
    assert not np.array_equal(corrupt(image, "noise", 2, seed=1), corrupt(image, "noise", 2, seed=2))


def test_blur_scales_with_the_image(image):
    small = corrupt(image, "blur", 2, reference_size=224)
    unscaled = corrupt(image, "blur", 2, reference_size=None)
    assert psnr(image, small) > psnr(image, unscaled)  # 96 px: σ = 2·96/224 < 2


def test_bad_arguments_are_refused(image):
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(image, "fog", 1)
    with pytest.raises(ValueError, match="outside"):
        corrupt(image, "noise", 6)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(image.astype(np.float32), "noise", 1)
