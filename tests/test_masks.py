"""Ground-truth masks: encodings, sizes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.io.images import ImageReadError
from core.io.masks import MaskSizeError, MaskValueError, binarise, read_mask


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


def test_jpeg_ringing_is_absorbed(truth, tmp_path):
    noisy = truth.astype(np.uint8) * 255
    noisy[0, 0] = 9
    noisy[6, 11] = 240
    np.testing.assert_array_equal(binarise(noisy, lossy=True), truth)
    Image.fromarray(truth.astype(np.uint8) * 255).save(tmp_path / "mask.jpg", quality=70)
    assert len(np.unique(np.asarray(Image.open(tmp_path / "mask.jpg")))) > 2  # the file really rings
    np.testing.assert_array_equal(read_mask(tmp_path / "mask.jpg"), truth)


@pytest.mark.parametrize("values, found", [((0, 1, 2), "0, 1, 2"), ((0, 128, 255), "0, 128, 255")])
def test_label_maps_with_several_classes_are_refused(tmp_path, truth, values, found):
    labels = np.zeros(truth.shape, np.uint8)
    labels[truth] = values[1]
    labels[:3, :3] = values[2]
    Image.fromarray(labels).save(tmp_path / "classes.png")
    with pytest.raises(MaskValueError, match=rf"classes.png holds more than two values \({found}\).*binary mask"):
        read_mask(tmp_path / "classes.png")


def test_soft_float_masks_are_refused(truth):
    with pytest.raises(MaskValueError, match="soft mask"):
        binarise(np.linspace(0, 1, truth.size).reshape(truth.shape), "soft.npy")


def test_two_values_of_any_kind_the_larger_is_foreground(truth):
    np.testing.assert_array_equal(binarise(np.where(truth, 7, 3).astype(np.int16)), truth)
    np.testing.assert_array_equal(binarise(np.where(truth, 0.0, -1.0)), truth)
    assert binarise(np.full((3, 3), 255, np.uint8)).all() and not binarise(np.zeros((3, 3))).any()


def test_colour_label_maps_are_refused_but_rgb_masks_accepted(truth):
    rgb = np.zeros((*truth.shape, 4), np.uint8)
    rgb[truth] = (255, 255, 255, 255)
    rgb[..., 3] = 255  # alpha is ignored
    np.testing.assert_array_equal(binarise(rgb), truth)
    rgb[:3, :3, 0] = 255  # red marks a region green and blue do not
    with pytest.raises(MaskValueError, match="channels mark different regions"):
        binarise(rgb, "colours.png")


@pytest.mark.parametrize("shape", [(), (5,), (4, 4, 5), (2, 2, 2, 2)])
def test_masks_of_odd_shapes_are_refused(shape):
    with pytest.raises(ImageReadError, match="has shape"):
        binarise(np.zeros(shape), "odd.npy")


def test_nan_masks_are_refused(truth):
    with pytest.raises(MaskValueError, match="NaN"):
        binarise(np.where(truth, np.nan, 0.0), "nan.npy")


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
