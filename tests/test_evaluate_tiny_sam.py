"""packaging/evaluate_tiny_sam.py: the held-out families and a PointPrompt dataset, one table."""

from __future__ import annotations

import json

import numpy as np

from core.io.image_datasets import write_category
from tests.test_packaging_scripts import load_script


def flat_disk_scene(radius: int, centre: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A red disk on a grey 80×100 background: (H, W, 3) uint8 image and (H, W) bool truth."""
    yy, xx = np.mgrid[:80, :100]
    truth = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2
    image = np.full((80, 100, 3), 120, np.uint8)
    image[truth] = (220, 30, 30)
    return image, truth


def test_a_dataset_is_measured_per_category_beside_a_family(tmp_path, capsys):
    """Two categories of flat disks: the colour threshold segments each with one click (all but
    the smoothed rim), the table names the dataset and counts one target per image; empty truths
    are skipped."""
    disk_a, truth_a = flat_disk_scene(20, (40, 50))
    disk_b, truth_b = flat_disk_scene(12, (30, 30))
    write_category(tmp_path / "data", "disks", [disk_a, disk_b], [truth_a, truth_b])
    write_category(tmp_path / "data", "empty", [disk_a], [np.zeros_like(truth_a)])
    out = tmp_path / "results.json"
    load_script("evaluate_tiny_sam").main(["--no-shipped", "--families", "demo", "--scenes", "1",
                                           "--dataset", str(tmp_path / "data"), "--json", str(out)])
    results = json.loads(out.read_text())
    assert [r["family"] for r in results] == ["demo", str(tmp_path / "data")]
    dataset = results[1]
    assert dataset["objects"] == 2 and dataset["scenes"] == 2
    assert dataset["mean_iou_per_click"][0] > 0.9
    assert list(dataset["iou_last_click_per_kind"]) == ["disks"]
    assert str(tmp_path / "data") in capsys.readouterr().out


def test_a_folder_without_a_dataset_is_named(tmp_path):
    try:
        load_script("evaluate_tiny_sam").main(["--no-shipped", "--families", "--dataset", str(tmp_path)])
    except SystemExit as error:
        assert str(tmp_path) in str(error)
    else:
        raise AssertionError("an empty folder was accepted as a dataset")


def test_nothing_to_measure_is_refused(capsys):
    try:
        load_script("evaluate_tiny_sam").main(["--no-shipped", "--families"])
    except SystemExit as error:
        assert error.code == 2 and "--dataset" in capsys.readouterr().err
    else:
        raise AssertionError("an empty measurement was accepted")


def test_training_families_are_held_out_scenes_of_the_training_generators():
    """"varied" and "varied_thin" render the trainer's own generators from a seed of their own:
    the same scenes on every call, different from the demo family's, and varied_thin draws thin
    kinds the plain varied generator never makes."""
    script = load_script("evaluate_tiny_sam")
    varied = script.family_scenes("varied", 3)
    again = script.family_scenes("varied", 3)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(varied, again))
    assert not np.array_equal(varied[0].image, script.family_scenes("demo", 1)[0].image)
    thin_kinds = {kind for scene in script.family_scenes("varied_thin", 40) for kind in scene.kinds}
    plain_kinds = {kind for scene in script.family_scenes("varied", 40) for kind in scene.kinds}
    assert thin_kinds - plain_kinds, (thin_kinds, plain_kinds)
    assert all(scene.image.shape == (240, 320, 3) for scene in varied)
