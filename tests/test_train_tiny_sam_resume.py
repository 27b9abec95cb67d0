"""packaging/train_tiny_sam.py in a run folder: a stopped run resumes to the same weights."""

from __future__ import annotations

import json

import pytest
import torch

from tests.test_packaging_scripts import load_script


def _train(argv: list[str]) -> None:
    module = load_script("train_tiny_sam")
    threads = torch.get_num_threads()
    try:
        module.main(argv)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("grouping_weight", ["0", "1"])
def test_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path, grouping_weight):
    common = ["--steps", "3", "--batch-size", "1", "--prompts-per-image", "2", "--threads", "1", "--save-every", "1",
              "--scenes", "varied", "--max-clicks", "3", "--random-click-share", "0.5", "--seed", "3",
              "--grouping-weight", grouping_weight]
    _train(common + ["--stop-after", "2", "--out", str(tmp_path / "a")])
    assert json.loads((tmp_path / "a" / "log.jsonl").read_text().splitlines()[-1])["step"] == 2
    _train(common + ["--out", str(tmp_path / "a")])  # the same command continues from step 2
    _train(common + ["--out", str(tmp_path / "b")])
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    for name in ("last.pth", "model.pth"):
        a, b = torch.load(tmp_path / "a" / name), torch.load(tmp_path / "b" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    saved = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    assert saved["step"] == 3 and saved["optimizer"]["state"]
    # the grouping head trains and resumes with the run, but never enters the SAM weights
    assert ("grouping" in log[-1]) == (grouping_weight == "1")
    assert (saved["grouping_head"] is not None) == (grouping_weight == "1")
    assert saved["average"].keys() == torch.load(tmp_path / "a" / "model.pth").keys() == saved["model"].keys()
    if grouping_weight == "1":
        other = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["grouping_head"]
        assert all(torch.equal(saved["grouping_head"][k], other[k]) for k in other)


def test_batches_rendered_ahead_by_a_worker_train_the_same_weights(tmp_path):
    """--workers renders each step's scenes in another process, one step ahead of training; the
    scenes come from the same (seed, step, index) seeds, so the weights equal a run without workers."""
    common = ["--steps", "2", "--batch-size", "2", "--prompts-per-image", "1", "--threads", "1", "--save-every", "1",
              "--scenes", "varied", "--max-clicks", "2", "--seed", "5"]
    _train(common + ["--workers", "1", "--out", str(tmp_path / "workers")])
    _train(common + ["--out", str(tmp_path / "inline")])
    a, b = torch.load(tmp_path / "workers" / "last.pth"), torch.load(tmp_path / "inline" / "last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [json.loads(line)["step"] for line in (tmp_path / "workers" / "log.jsonl").read_text().splitlines()] == [1, 2]
