"""Reading odd images: formats, greyscale, RGBA, 16-bit, EXIF rotation, float arrays, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core.io.images import ImageReadError, read_image, to_rgb


@pytest.fixture
def rgb(rng):
    return rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_formats_round_trip_in_rgb_order(tmp_path, rgb, suffix):
    path = tmp_path / f"image{suffix}"
    Image.fromarray(rgb).save(path)
    np.testing.assert_array_equal(read_image(path), rgb)


def test_jpeg_is_read_in_rgb_order(tmp_path):
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 250
    path = tmp_path / "red.jpg"
    Image.fromarray(red).save(path, quality=95)
    image = read_image(path)
    assert image.shape == (16, 16, 3) and image[..., 0].min() > 230 and image[..., 2].max() < 20


def test_greyscale_becomes_three_equal_channels(tmp_path, rgb):
    path = tmp_path / "grey.png"
    Image.fromarray(rgb[..., 0]).save(path)
    image = read_image(path)
    assert image.shape == (30, 40, 3)
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 0] == rgb[..., 0]).all()


def test_rgba_drops_alpha(tmp_path, rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    np.testing.assert_array_equal(read_image(path), rgb)


def test_sixteen_bit_png_is_stretched_to_eight_bit(tmp_path):
    deep = np.tile(np.linspace(1000, 4000, 50).astype(np.uint16), (20, 1))
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), deep)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.min() == 0 and image.max() == 255
    assert (np.diff(image[0, :, 0].astype(int)) >= 0).all()


def test_sixteen_bit_colour_tiff(tmp_path):
    deep = (np.arange(10 * 12 * 3).reshape(10, 12, 3) * 100).astype(np.uint16)
    path = tmp_path / "deep.tif"
    cv2.imwrite(str(path), deep[..., ::-1])  # OpenCV writes BGR
    image = read_image(path)
    assert image.shape == (10, 12, 3)
    assert image[0, 0, 0] == 0 and image[-1, -1, 2] == 255
    assert image[0, 0, 2] > image[0, 0, 0]  # channel order kept: blue holds larger values


def test_exif_orientation_is_applied(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, :5] = 255  # a white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(wide).save(path, exif=exif, quality=95)
    image = read_image(path)
    assert image.shape == (30, 10, 3)
    assert image[:5].mean() > 200 and image[-5:].mean() < 50  # the stripe is now at the top


@pytest.mark.parametrize(
    "array, expected_max",
    [
        (np.linspace(0, 1, 64).reshape(8, 8), 255),  # float in [0, 1]
        (np.linspace(-1, 1, 64).reshape(8, 8), 255),  # float in [-1, 1]
        (np.linspace(-50, 900, 64).reshape(8, 8), 255),  # other float range
    ],
)
def test_float_npy_arrays_are_mapped_to_uint8(tmp_path, array, expected_max):
    path = tmp_path / "sample.npy"
    np.save(path, array)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (8, 8, 3)
    assert image.min() == 0 and image.max() == expected_max


def test_float_in_unit_range_keeps_its_scale():
    image = to_rgb(np.full((4, 4), 0.5))
    assert (image == 128).all()


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageReadError, match="not found.*gone.png"):
        read_image(tmp_path / "gone.png")


def test_corrupt_file_is_named_with_the_fix(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ImageReadError, match="broken.png.*convert it to PNG"):
        read_image(path)


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(ImageReadError, match="empty.jpg is empty"):
        read_image(path)


def test_nan_array_is_refused(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.full((4, 4), np.nan))
    with pytest.raises(ImageReadError, match="nan.npy contains NaN"):
        read_image(path)


def test_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "volume.npy"
    np.save(path, np.zeros((4, 4, 4, 4)))
    with pytest.raises(ImageReadError, match=r"volume.npy has shape \(4, 4, 4, 4\)"):
        read_image(path)


def test_huge_image_is_refused_before_conversion(tmp_path, monkeypatch):
    import core.io.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(path)
    with pytest.raises(ImageReadError, match="big.png is 20×20 pixels"):
        read_image(path)


def test_non_ascii_path(tmp_path, rgb):
    path = tmp_path / "größe_画像.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_array_equal(read_image(path), rgb)
