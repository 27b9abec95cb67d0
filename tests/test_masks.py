"""Ground-truth masks: encodings, sizes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.io.images import ImageReadError
from core.io.masks import MaskSizeError, binarise, read_mask


@pytest.fixture
def truth():
    mask = np.zeros((20, 30), bool)
    mask[5:15, 10:25] = True
    return mask


@pytest.mark.parametrize("scale", [1, 255])
def test_png_masks_in_zero_one_and_zero_255(tmp_path, truth, scale):
    path = tmp_path / "mask.png"
    Image.fromarray(truth.astype(np.uint8) * scale).save(path)
    np.testing.assert_array_equal(read_mask(path, (20, 30)), truth)


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int64, np.float32])
def test_npy_masks_of_any_dtype(tmp_path, truth, dtype):
    path = tmp_path / "mask.npy"
    np.save(path, truth.astype(dtype))
    np.testing.assert_array_equal(read_mask(path), truth)


def test_rgb_mask_counts_any_channel(truth):
    rgb = np.zeros((*truth.shape, 3), np.uint8)
    rgb[truth, 1] = 255
    np.testing.assert_array_equal(binarise(rgb), truth)


def test_jpeg_ringing_is_absorbed(truth):
    noisy = truth.astype(np.uint8) * 255
    noisy[0, 0] = 9
    noisy[6, 11] = 240
    np.testing.assert_array_equal(binarise(noisy), truth)


def test_wrong_size_names_both_sizes_and_never_resizes(tmp_path, truth):
    path = tmp_path / "small.png"
    Image.fromarray(truth.astype(np.uint8)).save(path)
    with pytest.raises(MaskSizeError, match=r"small.png is 30×20 pixels but its image is 40×20"):
        read_mask(path, (20, 40))


def test_missing_mask_is_named(tmp_path):
    with pytest.raises(ImageReadError, match="Mask not found.*m.png"):
        read_mask(tmp_path / "m.png")


def test_empty_mask_is_allowed_and_empty():
    assert not binarise(np.zeros((4, 4), np.uint8)).any()
