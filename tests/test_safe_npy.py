"""No code runs from a data file: every reader of outside .npy files refuses a poisoned pickle.

Each poisoned file carries a payload that would create a marker file when unpickled by
``np.load(..., allow_pickle=True)``; the tests check that the marker never appears and that
the reader raises its own documented error, naming the file, the image index and what was
refused. Files written by ``np.save`` of object arrays of arrays, by older numpy versions
(``numpy.core`` names, pickle protocol 2) and the shipped data still load.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from core.io.image_datasets import DatasetError, read_category, write_category
from core.io.images import ImageReadError, read_image
from core.io.masks import read_mask
from core.io.pointprompt_results import (
    ResultsError,
    ResultStep,
    read_annotator_results,
    read_image_results,
    write_image_results,
)
from core.io.safe_npy import NpyReadError, RefusedContentError, read_npy
from core.paths import DEMO_DATASET
from core.prompting.study import StudyImageError, study_from_image_datasets

EXAMPLE_EXPORT = Path(__file__).resolve().parents[1] / "docs" / "example-export"


class Payload:
    """Unpickled by numpy's own loader, this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PWNED"


def poisoned_array(marker: Path, length: int = 3, at: int = 1) -> np.ndarray:
    """An object array of images whose element ``at`` is the payload."""
    array = np.empty(length, dtype=object)
    for i in range(length):
        array[i] = np.zeros((4, 5, 3), np.uint8)
    array[at] = Payload(marker)
    return array


def save_object(path: Path, array) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=True)
    return path


def test_the_payload_is_real(tmp_path, marker):
    """The same file does run its payload through np.load(allow_pickle=True): the test can fail."""
    path = save_object(tmp_path / "x.npy", poisoned_array(marker))
    np.load(path, allow_pickle=True)
    assert marker.exists()


def test_read_npy_refuses_the_payload_and_names_it(tmp_path, marker):
    path = save_object(tmp_path / "x.npy", poisoned_array(marker, 4, at=2))
    with pytest.raises(RefusedContentError, match=r"x\.npy holds something other than numbers \(element 2: "
                                                  r"posix\.system\)") as caught:
        read_npy(path)
    assert caught.value.refused == ["posix.system"] and caught.value.indices == [2]
    assert not marker.exists()


@pytest.mark.parametrize("wrap", ["top level", "nested list", "nested object array", "as dtype"])
def test_payloads_anywhere_in_the_pickle_are_refused(tmp_path, marker, wrap):
    if wrap == "top level":  # the whole pickle is the payload, behind an object-array header
        path = tmp_path / "x.npy"
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": (2,)})
            pickle.dump(Payload(marker), handle, protocol=3)
    elif wrap == "as dtype":  # the payload where numpy expects a dtype
        path = tmp_path / "x.npy"
        good = io.BytesIO()
        pickle.dump(poisoned_array(marker, 1, at=0), good, protocol=2)
        body = good.getvalue().replace(b"cnumpy\ndtype\n", b"cposix\nsystem\n", 1)
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": (1,)})
            handle.write(body)
    else:
        inner = [np.zeros(2), Payload(marker)]
        if wrap == "nested object array":
            inner = np.array([np.zeros(2), np.zeros(3), Payload(marker)], dtype=object)
        array = np.empty(2, dtype=object)
        array[0], array[1] = np.zeros(3), inner
        path = save_object(tmp_path / "x.npy", array)
    with pytest.raises(RefusedContentError, match="posix.system"):
        read_npy(path)
    assert not marker.exists()


def test_other_python_objects_are_refused_too(tmp_path):
    array = np.empty(3, dtype=object)
    array[0], array[1], array[2] = np.zeros(2), {"a": 1}, "text"
    with pytest.raises(RefusedContentError, match=r"element 1: dict, element 2: str") as caught:
        read_npy(save_object(tmp_path / "x.npy", array))
    assert caught.value.indices == [1, 2]


def test_object_arrays_of_arrays_and_lists_still_load(tmp_path):
    array = np.empty(5, dtype=object)
    array[0] = np.arange(6, dtype=np.int64).reshape(3, 2)
    array[1] = np.zeros((0, 2))
    array[2] = np.ones((4, 5, 3), np.uint8)
    array[3] = [[1, 2], [3.5, 4]]
    array[4] = np.array([True, False])
    loaded = read_npy(save_object(tmp_path / "x.npy", array))
    assert loaded.dtype == object and len(loaded) == 5
    for a, b in zip(loaded, array):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_files_from_numpy_1_with_protocol_2_load(tmp_path):
    """Older numpy wrote ``numpy.core.multiarray`` names; Python 2 era files use protocol 2."""
    array = np.empty(2, dtype=object)
    array[0], array[1] = np.arange(4).reshape(2, 2), np.array([1.5])
    body = pickle.dumps(array, protocol=2).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in body
    path = tmp_path / "old.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": (2,)})
        handle.write(body)
    loaded = read_npy(path)
    assert loaded[0].tolist() == [[0, 1], [2, 3]] and loaded[1].tolist() == [1.5]


def test_plain_arrays_load_without_pickle_and_object_arrays_can_be_refused(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(5))
    assert read_npy(tmp_path / "plain.npy", allow_objects=False).tolist() == [0, 1, 2, 3, 4]
    path = save_object(tmp_path / "x.npy", poisoned_array(tmp_path / "never"))
    with pytest.raises(RefusedContentError, match="object array where plain numbers are expected"):
        read_npy(path, allow_objects=False)


def test_sizes_are_checked_before_decoding(tmp_path):
    path = tmp_path / "big.npy"
    with open(path, "wb") as handle:  # a header that claims 10^12 float64 values, and no data
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    with pytest.raises(NpyReadError, match="claims a float64 array of shape .* truncated"):
        read_npy(path)
    np.save(tmp_path / "small.npy", np.zeros(100))
    with pytest.raises(NpyReadError, match="over the 0 GiB limit"):
        read_npy(tmp_path / "small.npy", max_bytes=100)


# --- every reader of outside files -------------------------------------------------------------

@pytest.mark.parametrize("file, at", [("samples.npy", 2), ("labels.npy", 0)])
def test_image_dataset_layout_a(tmp_path, marker, file, at):
    write_category(tmp_path, "Dog", [np.zeros((4, 5, 3), np.uint8)] * 3, [np.zeros((4, 5), np.uint8)] * 3)
    save_object(tmp_path / "Dog" / file, poisoned_array(marker, 3, at=at))
    with pytest.raises(DatasetError, match=rf"Dog/{file} .*posix\.system.*\(image index {at}\)"):
        read_category(tmp_path, "Dog")
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["samples", "labels"])
def test_image_dataset_layout_b(tmp_path, marker, kind):
    for i in range(3):
        save_object(tmp_path / "samples" / "Cat" / f"{i}_sample.npy", np.zeros((4, 5, 3), np.uint8))
        save_object(tmp_path / "labels" / "Cat" / f"{i}_label.npy", np.zeros((4, 5), np.uint8))
    name = "1_sample.npy" if kind == "samples" else "1_label.npy"
    save_object(tmp_path / kind / "Cat" / name, poisoned_array(marker, 1, at=0))
    with pytest.raises(DatasetError, match=rf"Cat/{name} .*posix\.system.*\(image index 1\)"):
        read_category(tmp_path, "Cat")
    assert not marker.exists()


@pytest.mark.parametrize("file", ["points/4_green.npy", "points/4_red.npy", "eachround/4_.npy",
                                  "scores/4score.npy", "sorts/4_sort.npy"])
def test_every_file_of_the_results_layout(tmp_path, marker, file):
    folder = tmp_path / "Bus" / "st1"
    mask = np.zeros((6, 6), bool)
    write_image_results(folder, 4, [ResultStep(0, np.array([[1, 1]]), np.array([[2, 2]]), 0.5, mask)] * 3)
    save_object(folder / file, poisoned_array(marker, 3, at=1))
    with pytest.raises(ResultsError, match=rf"{file}.*(posix\.system|object array where plain numbers).*image index 4"):
        read_image_results(folder, 4)
    with pytest.raises(ResultsError):
        read_annotator_results(tmp_path, "Bus", "st1")
    assert not marker.exists()


def test_points_error_names_the_timestep(tmp_path, marker):
    folder = tmp_path / "Bus" / "st1"
    write_image_results(folder, 0, [ResultStep(0, np.array([[1, 1]]), np.array([[2, 2]]), 0.5,
                                               np.zeros((6, 6), bool))] * 3)
    save_object(folder / "points" / "0_green.npy", poisoned_array(marker, 3, at=2))
    with pytest.raises(ResultsError, match=r"image index 0, timestep 2"):
        read_image_results(folder, 0)


@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_npy_images_and_masks(tmp_path, marker, reader):
    path = save_object(tmp_path / "picture.npy", poisoned_array(marker, 2, at=0))
    with pytest.raises(ImageReadError, match="picture.npy"):
        reader(path)
    assert not marker.exists()


def test_a_poisoned_category_leaves_the_others_usable(tmp_path, marker):
    write_category(tmp_path, "Good", [np.zeros((4, 5, 3), np.uint8)] * 2, [np.ones((4, 5), np.uint8)] * 2)
    (tmp_path / "Bad").mkdir()
    save_object(tmp_path / "Bad" / "samples.npy", poisoned_array(marker))
    images = study_from_image_datasets(tmp_path)
    assert [i.image_id for i in images] == ["Bad/unreadable", "Good/0", "Good/1"]
    with pytest.raises(StudyImageError, match="posix.system"):
        images[0].load()
    assert images[1].load().image.shape == (4, 5, 3)
    with pytest.raises(StudyImageError, match="posix.system"):
        study_from_image_datasets(tmp_path, ["Bad"])
    assert not marker.exists()


# --- the data the project ships and writes ---------------------------------------------------

def test_shipped_demo_dataset_and_example_export_load():
    assert len(read_category(DEMO_DATASET, "star")) >= 12
    results = read_annotator_results(EXAMPLE_EXPORT, "star", "st1")
    assert sorted(results) == [0, 1] and results[0].green[0].shape[1] == 2
