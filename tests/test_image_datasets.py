"""PointPrompt "Image datasets" layouts: both read, layout A written; the shipped demo dataset."""

from __future__ import annotations

import numpy as np
import pytest

from core.io.image_datasets import DatasetError, images_with_truth, list_categories, read_category, write_category
from core.io.masks import MaskSizeError
from core.paths import DEMO_DATASET


def test_layout_a_round_trip(tmp_path, rng):
    images = [rng.integers(0, 256, (10 + i, 12, 3), dtype=np.uint8) for i in range(3)]
    masks = [rng.integers(0, 2, image.shape[:2]).astype(bool) for image in images]
    write_category(tmp_path, "Bird", images, masks)
    assert list_categories(tmp_path) == ["Bird"]
    entries = read_category(tmp_path, "Bird")
    assert [e.index for e in entries] == [0, 1, 2] and entries[1].name == "Bird/1"
    for entry, image, mask in zip(entries, images, masks):
        np.testing.assert_array_equal(entry.image, image)
        np.testing.assert_array_equal(entry.truth, mask)


def test_layout_b_with_greyscale_float_and_0_255_masks(tmp_path, rng):
    (tmp_path / "samples" / "Polyp").mkdir(parents=True)
    (tmp_path / "labels" / "Polyp").mkdir(parents=True)
    for i in (0, 1, 10):
        np.save(tmp_path / "samples" / "Polyp" / f"{i}_sample.npy", rng.uniform(-1, 1, (8, 9)))
        np.save(tmp_path / "labels" / "Polyp" / f"{i}_label.npy", (rng.uniform(size=(8, 9)) > 0.5) * 255)
    assert list_categories(tmp_path) == ["Polyp"]
    entries = read_category(tmp_path, "Polyp")
    assert [e.index for e in entries] == [0, 1, 10]  # numeric, not text, order
    assert entries[0].image.shape == (8, 9, 3) and entries[0].image.dtype == np.uint8
    assert entries[0].truth.dtype == bool


def test_mask_of_wrong_size_names_file_and_index(tmp_path, rng):
    write_category(tmp_path, "Cat", [np.zeros((10, 10, 3), np.uint8)] * 2,
                   [np.zeros((10, 10)), np.zeros((5, 10))])
    with pytest.raises(MaskSizeError, match=r"labels.npy \[index 1\] is 10×5"):
        read_category(tmp_path, "Cat")


def test_count_mismatch_is_reported(tmp_path):
    write_category(tmp_path, "Dog", [np.zeros((4, 4, 3), np.uint8)] * 2, [np.zeros((4, 4))] * 2)
    labels = np.empty(1, dtype=object)
    labels[0] = np.zeros((4, 4))
    np.save(tmp_path / "Dog" / "labels.npy", labels, allow_pickle=True)
    with pytest.raises(DatasetError, match="holds 1 masks but .* holds 2 images"):
        read_category(tmp_path, "Dog")


def test_unreadable_entry_names_file_and_index(tmp_path):
    samples = np.empty(2, dtype=object)
    samples[0], samples[1] = np.zeros((4, 4, 3), np.uint8), np.array(["text"])
    (tmp_path / "Tie").mkdir()
    np.save(tmp_path / "Tie" / "samples.npy", samples, allow_pickle=True)
    with pytest.raises(DatasetError, match=r"Tie/samples.npy holds something other than numbers \(element 1: an array of dtype <U4\).*image index 1"):
        read_category(tmp_path, "Tie")


def test_missing_category_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetError, match="No category 'Cow'"):
        read_category(tmp_path, "Cow")


def test_shipped_demo_dataset_has_at_least_3_categories_of_12():
    categories = list_categories(DEMO_DATASET)
    assert len(categories) >= 3
    for category in categories:
        entries = read_category(DEMO_DATASET, category)
        assert len(entries) >= 12
        for entry in entries:
            assert entry.image.shape == (240, 320, 3) and entry.truth.shape == (240, 320)
            assert entry.truth.sum() >= 600


def test_damaged_npy_file_is_named(tmp_path):
    (tmp_path / "Bus").mkdir()
    (tmp_path / "Bus" / "samples.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DatasetError, match="Bus/samples.npy is not a readable .npy file.*damaged"):
        read_category(tmp_path, "Bus")


def test_images_with_truth_skips_empty_truths_and_keeps_the_limit(tmp_path):
    image = np.zeros((20, 30, 3), np.uint8)
    full, empty = np.ones((20, 30), np.uint8), np.zeros((20, 30), np.uint8)
    write_category(tmp_path, "a", [image] * 3, [full, empty, full])
    write_category(tmp_path, "b", [image] * 2, [full, full])
    assert [i.name for i in images_with_truth(tmp_path)] == ["a/0", "a/2", "b/0", "b/1"]
    assert [i.name for i in images_with_truth(tmp_path, ["b"], limit=1)] == ["b/0"]
    assert [i.name for i in images_with_truth(tmp_path, limit=2)] == ["a/0", "b/0", "b/1"]
