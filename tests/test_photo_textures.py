"""Natural-photo textures for training (core.synthetic.photo_textures) and the varied_photo generator."""

from __future__ import annotations

import numpy as np

import core.synthetic.training_scenes as training_scenes
from core.synthetic.photo_textures import PHOTO_NAMES, load_photos, photo_crop
from core.synthetic.training_scenes import render_photo_training_scene, render_training_scene


def test_every_photo_loads_as_rgb():
    photos = load_photos()
    assert len(photos) == len(PHOTO_NAMES)
    for photo in photos:
        assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.float32
        assert min(photo.shape[:2]) >= 128 and 0 <= photo.min() and photo.max() <= 255


def test_a_crop_has_the_asked_size_and_range_and_the_same_seed_gives_the_same_crop():
    for seed in range(20):
        crop, source = photo_crop(np.random.default_rng(seed), 70, 130)
        again, again_source = photo_crop(np.random.default_rng(seed), 70, 130)
        assert crop.shape == (70, 130, 3) and crop.dtype == np.float32
        assert 0 <= crop.min() and crop.max() <= 255
        assert source == again_source and np.array_equal(crop, again)
        assert crop.std() > 0  # a texture, not a flat colour
    assert photo_crop(np.random.default_rng(0), 32, 32, source=3)[1] == 3


def test_the_photo_generator_uses_photos_and_camouflages_with_the_backgrounds_own(monkeypatch):
    calls = []

    def recording(rng, height, width, source=None):
        crop, used = photo_crop(rng, height, width, source)
        calls.append((source, used))
        return crop, used

    monkeypatch.setattr(training_scenes, "photo_crop", recording)
    for seed in range(30):
        render_training_scene(np.random.default_rng(seed), 96, 128)
    assert not calls  # the varied generators without photos never touch them
    for seed in range(30):
        scene = render_photo_training_scene(np.random.default_rng(seed), 96, 128)
        assert scene.image.shape == (96, 128, 3) and scene.image.dtype == np.uint8
    assert len(calls) > 10
    same_photo = [(asked, used) for asked, used in calls if asked is not None]
    assert same_photo and all(asked == used for asked, used in same_photo)
