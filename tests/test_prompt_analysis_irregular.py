"""The published data's irregularities: normalised where the readers normalise them, otherwise
skipped and named in skipped.csv, never fatal."""

import csv

import cv2
import numpy as np
import pytest

from core.analysis.prompt_report import analyze
from core.io.pointprompt_results import ResultStep, write_image_results

H, W = 24, 32


def truth_square():
    truth = np.zeros((H, W), bool)
    truth[6:18, 8:24] = True
    return truth


def steps(truth, count=3):
    """count timesteps in round 0 whose masks grow towards the truth; scores are their true IoUs."""
    out = []
    for t in range(count):
        mask = np.zeros((H, W), bool)
        mask[6:18, 8:12 + 4 * t] = True
        score = np.count_nonzero(mask & truth) / np.count_nonzero(mask | truth)
        out.append(ResultStep(0, np.array([[10 + t, 10]]), np.array([[2, 2]]), score, mask))
    return out


def object_array(items):
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


@pytest.fixture
def irregular(tmp_path):
    """A dataset and results with every irregularity the analysis must survive."""
    data, results = tmp_path / "Image datasets", tmp_path / "Prompting results"
    truth = truth_square()
    rng = np.random.default_rng(3)
    # layout A, "Grey": a greyscale float image in [0, 1], one in [-1, 1]; an RGB 0/255 mask, a 0/1 mask
    (data / "Grey").mkdir(parents=True)
    np.save(data / "Grey" / "samples.npy", object_array([rng.random((H, W)), rng.random((H, W)) * 2 - 1]),
            allow_pickle=True)
    rgb_mask = np.repeat(truth[..., None].astype(np.uint8) * 255, 3, axis=2)
    np.save(data / "Grey" / "labels.npy", object_array([rgb_mask, truth.astype(np.uint8)]), allow_pickle=True)
    # layout B, "Broken": image 0 is not a .npy file at all, image 1 has an empty ground truth
    for sub in ("samples", "labels"):
        (data / sub / "Broken").mkdir(parents=True)
    (data / "samples" / "Broken" / "0_sample.npy").write_bytes(b"not an array")
    np.save(data / "samples" / "Broken" / "1_sample.npy", rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    np.save(data / "labels" / "Broken" / "1_label.npy", np.zeros((H, W), np.uint8))
    # layout A, "Ragged": image 0 is a ragged object array (rows of different lengths), image 1 is fine
    (data / "Ragged").mkdir()
    ragged_image = object_array([np.zeros(W), np.zeros(W - 3)])
    np.save(data / "Ragged" / "samples.npy", object_array([ragged_image, rng.random((H, W, 3))]), allow_pickle=True)
    np.save(data / "Ragged" / "labels.npy", object_array([truth, truth]), allow_pickle=True)
    for i in range(2):
        write_image_results(results / "Ragged" / "st1", i, steps(truth, 2))
    for i in range(3):  # image 2 has no image in the dataset (it holds two)
        write_image_results(results / "Grey" / "st1", i, steps(truth))
    rgb_png = cv2.imread(str(results / "Grey/st1/masks/0_0_mask.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(results / "Grey/st1/masks/0_0_mask.png"), np.repeat(rgb_png[..., None], 3, axis=2))  # an RGB mask
    cv2.imwrite(str(results / "Grey/st1/masks/1_1_mask.png"), np.zeros((H + 2, W), np.uint8))  # another size
    (results / "Grey/st1/scores/notes.txt").write_text("a stray file")
    write_image_results(results / "Grey" / "st2", 0, steps(truth))
    ragged = object_array([np.array([1.0, 2.0, 3.0]), np.array([[1, 2]]), np.array([[1, 2]])])  # (3,): not (n, 2)
    np.save(results / "Grey/st2/points/0_green.npy", ragged, allow_pickle=True)
    write_image_results(results / "Grey" / "st2", 1, steps(truth))
    (results / "Grey/st2/masks/1_2_mask.png").unlink()  # a missing file
    write_image_results(results / "Grey" / "st2", 2, steps(truth))
    np.save(results / "Grey/st2/eachround/2_.npy", np.zeros(5, np.int64))  # disagrees with the other files
    for i in range(2):
        write_image_results(results / "Broken" / "st1", i, steps(truth, 2))
    write_image_results(results / "Cat" / "st1", 0, steps(truth, 2))  # a category the dataset lacks
    (results / "Empty").mkdir()
    (results / "Empty" / "readme.txt").write_text("no annotators here")
    return results, data


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_irregular_inputs_are_normalised_or_skipped_and_named(irregular, tmp_path):
    results, data = irregular
    summary = analyze(results, data, tmp_path / "out")
    skipped = read(tmp_path / "out" / "skipped.csv")
    by_source = {}
    for row in skipped:
        by_source.setdefault(row["source"].replace("\\", "/").split("Prompting results/")[-1]
                             .split("Image datasets/")[-1], []).append(row)
    expected = {
        "Empty": "holds no annotator results folder",
        "Empty/readme.txt": "not an annotator results folder",
        "Grey/st1/scores/notes.txt": "not a PointPrompt results file name",
        "Grey/st1/masks/1_1_mask.png": "the mask is 32×26 pixels, its ground truth 32×24",
        "Grey": "no image 2",
        "Cat": "No category 'Cat'",
        "samples/Broken/0_sample.npy": "0_sample.npy",
        "samples/Broken/1_sample.npy": "empty",
    }
    for source, reason in expected.items():
        assert source in by_source, (source, sorted(by_source))
        assert any(reason in row["reason"] for row in by_source[source]), (source, by_source[source])
    ragged = [row for row in skipped if row["category"] == "Ragged"]
    assert len(ragged) == 1 and ragged[0]["image_index"] == "0" and "samples.npy [index 0]" in ragged[0]["reason"]
    st2 = {int(row["image_index"]): row for row in skipped if row["annotator"] == "st2"}
    sources = [st2[i]["source"].replace("\\", "/") for i in range(3)]
    assert sources[0].endswith("Grey/st2/points/0_green.npy") and sources[1].endswith("Grey/st2/masks/1_2_mask.png")
    assert sources[2].endswith("Grey/st2")  # its files disagree with each other: the message names the folder
    assert "points of shape (3,)" in st2[0]["reason"] and "0_green.npy" in st2[0]["reason"]
    assert "1_2_mask.png is missing" in st2[1]["reason"]
    assert "different timestep counts" in st2[2]["reason"]
    assert all(row["effect"] == "image left out for this annotator" for row in st2.values())
    assert all(row["reason"] and row["effect"] for row in skipped)

    rows = read(tmp_path / "out" / "timesteps.csv")
    analysed = {(r["category"], r["annotator"], r["image_index"]) for r in rows}
    assert analysed == {("Grey", "st1", "0"), ("Grey", "st1", "1"), ("Grey", "st1", "2"),
                        ("Broken", "st1", "0"), ("Broken", "st1", "1"), ("Cat", "st1", "0"),
                        ("Ragged", "st1", "0"), ("Ragged", "st1", "1")}
    assert summary["images"] == 8 and summary["skipped"] == len(skipped)
    grey0 = [r for r in rows if (r["category"], r["annotator"], r["image_index"]) == ("Grey", "st1", "0")]
    # greyscale float image, RGB ground truth, RGB mask PNG: all read, IoU recomputed equals the recorded one
    assert all(r["iou_differs"] == "0" and r["coverage"] != "" for r in grey0)
    grey1 = [r for r in rows if (r["category"], r["annotator"], r["image_index"]) == ("Grey", "st1", "1")]
    assert [r["iou_recomputed"] == "" for r in grey1] == [False, True, False]  # only the odd-sized mask
    rounds = {(r["category"], r["image_index"]): r for r in read(tmp_path / "out" / "images.csv")}
    assert rounds[("Grey", "0")]["has_ground_truth"] == "1" and rounds[("Grey", "1")]["has_ground_truth"] == "1"
    assert all(rounds[key]["has_ground_truth"] == "0" for key in (("Grey", "2"), ("Broken", "0"), ("Cat", "0"),
                                                                  ("Ragged", "0")))
    assert rounds[("Ragged", "1")]["has_ground_truth"] == "1"
    assert (tmp_path / "out" / "summary.md").is_file()


def test_a_results_folder_that_is_not_there_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        analyze(tmp_path / "nowhere", None, tmp_path / "out")
