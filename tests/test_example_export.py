"""docs/example-export/ is reproducible: the script that wrote it writes the same files again."""

import csv
import json

import cv2
import numpy as np

import importlib.util
from pathlib import Path

from core.io.pointprompt_results import read_annotator_results

# by path: "packaging" is also the name of a PyPI library
_SPEC = importlib.util.spec_from_file_location(
    "make_example_export", Path(__file__).resolve().parents[1] / "packaging" / "make_example_export.py")
_SCRIPT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_SCRIPT)
DEFAULT_OUT, main = _SCRIPT.DEFAULT_OUT, _SCRIPT.main

VARYING = {"latency_ms"}  # measured decode time: the only thing that differs between runs


def rows(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in VARYING} for row in csv.DictReader(handle)]


def events(path):
    return [{k: v for k, v in json.loads(line).items() if k not in VARYING} for line in open(path)]


def test_example_export_matches_a_fresh_run(tmp_path):
    main(["--out", str(tmp_path)])
    committed = sorted(p.relative_to(DEFAULT_OUT) for p in DEFAULT_OUT.rglob("*") if p.is_file() and p.name != "README.md")
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == fresh
    assert rows(tmp_path / "st1_timesteps.csv") == rows(DEFAULT_OUT / "st1_timesteps.csv")
    assert events(tmp_path / "session-events.jsonl") == events(DEFAULT_OUT / "session-events.jsonl")
    new, old = read_annotator_results(tmp_path, "star", "st1"), read_annotator_results(DEFAULT_OUT, "star", "st1")
    assert sorted(new) == sorted(old) == [0, 1]
    for index in old:
        assert new[index].rounds.tolist() == old[index].rounds.tolist()
        np.testing.assert_array_equal(new[index].scores, old[index].scores)
        for t in range(len(old[index])):
            np.testing.assert_array_equal(new[index].green[t], old[index].green[t])
            np.testing.assert_array_equal(new[index].red[t], old[index].red[t])
            np.testing.assert_array_equal(new[index].mask(t), old[index].mask(t))


def test_example_export_shows_a_removal_an_undo_and_a_second_round():
    logged = events(DEFAULT_OUT / "session-events.jsonl")
    actions = [e["action"] for e in logged if e["event"] == "edit"]
    assert "remove" in actions and "undo" in actions
    assert any(e["event"] == "round" for e in logged)
    results = read_annotator_results(DEFAULT_OUT, "star", "st1")
    assert set(results[0].rounds.tolist()) == {0, 1}
    png = cv2.imread(str(DEFAULT_OUT / "star/st1/masks/0_0_mask.png"), cv2.IMREAD_UNCHANGED)
    assert png.ndim == 2 and set(np.unique(png)) <= {0, 255}
