"""PointPrompt "Prompting results": the exact layout, np.load semantics, and clear errors."""

import cv2
import numpy as np
import pytest

from core.io.pointprompt_results import (
    ResultsError,
    ResultStep,
    list_annotators,
    read_annotator_results,
    write_image_results,
)


def steps():
    mask = np.zeros((10, 12), bool)
    mask[2:6, 3:9] = True
    return [
        ResultStep(0, np.array([[3, 4]]), np.array([[1, 1]]), 0.5, mask),
        ResultStep(0, np.array([[3, 4], [5, 5]]), np.array([[1, 1]]), 0.8, ~mask),
        ResultStep(1, np.array([[6, 2]]), np.zeros((0, 2)), 0.8, mask),
    ]


def test_layout_and_lab_style_reading(tmp_path):
    folder = tmp_path / "Cat" / "st1"
    write_image_results(folder, 7, steps())
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == ["eachround/7_.npy", "masks/7_0_mask.png", "masks/7_1_mask.png", "masks/7_2_mask.png",
                     "points/7_green.npy", "points/7_red.npy", "scores/7score.npy", "sorts/7_sort.npy"]
    green = np.load(folder / "points/7_green.npy", allow_pickle=True)
    red = np.load(folder / "points/7_red.npy", allow_pickle=True)
    assert green.dtype == object and len(green) == 3
    assert green[1].tolist() == [[3, 4], [5, 5]] and len(green[1]) == 2  # cumulative set at t = 1
    assert red[2].shape == (0, 2)
    assert np.load(folder / "eachround/7_.npy").tolist() == [0, 0, 1]
    assert np.load(folder / "scores/7score.npy").tolist() == [0.5, 0.8, 0.8]
    assert np.load(folder / "sorts/7_sort.npy").tolist() == [1, 2, 0]  # best first, ties in time order
    png = cv2.imread(str(folder / "masks/7_0_mask.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.ndim == 2 and set(np.unique(png)) == {0, 255}


def test_round_trip(tmp_path):
    folder = tmp_path / "Cat" / "st2"
    written = steps()
    write_image_results(folder, 0, written)
    write_image_results(folder, 3, written[:1])
    assert list_annotators(tmp_path, "Cat") == ["st2"]
    results = read_annotator_results(tmp_path, "Cat", "st2")
    assert sorted(results) == [0, 3]
    read = results[0]
    assert len(read) == 3 and read.rounds.tolist() == [0, 0, 1]
    for t, step in enumerate(written):
        assert np.array_equal(read.green[t], step.green) and np.array_equal(read.red[t], step.red.reshape(-1, 2))
        assert np.array_equal(read.mask(t), step.mask)


def test_inconsistent_and_missing_files_are_named(tmp_path):
    folder = tmp_path / "Cat" / "st1"
    write_image_results(folder, 2, steps())
    np.save(folder / "scores/2score.npy", np.array([0.1, 0.2]))
    with pytest.raises(ResultsError, match=r"image index 2 has different timestep counts.*scores 2"):
        read_annotator_results(tmp_path, "Cat", "st1")
    write_image_results(folder, 2, steps())
    (folder / "masks/2_1_mask.png").unlink()
    with pytest.raises(ResultsError, match=r"2_1_mask.png is missing \(image index 2, timestep 1"):
        read_annotator_results(tmp_path, "Cat", "st1")
    write_image_results(folder, 2, steps())
    (folder / "points/2_red.npy").unlink()
    with pytest.raises(ResultsError, match=r"2_red.npy is missing \(image index 2\)"):
        read_annotator_results(tmp_path, "Cat", "st1")
    with pytest.raises(ResultsError, match="not a PointPrompt results folder"):
        read_annotator_results(tmp_path, "Cat", "st9")
