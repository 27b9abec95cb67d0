"""docs/example-analysis/ is reproducible: the script that wrote it writes the same tables again.

Numbers are compared with a float tolerance (another CPU may sum in another order), text
exactly; the plots must exist under the same names and decode as images (never bit for bit).
"""

import csv
import importlib.util
import math
import re
from pathlib import Path

import cv2

# by path: "packaging" is also the name of a PyPI library
_SPEC = importlib.util.spec_from_file_location(
    "make_example_analysis", Path(__file__).resolve().parents[1] / "packaging" / "make_example_analysis.py")
_SCRIPT = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_SCRIPT)
DEFAULT_OUT, main = _SCRIPT.DEFAULT_OUT, _SCRIPT.main

TOLERANCE = 1e-6
SHOWN_DIGITS = 2e-3  # summary.md shows three decimals


def cells_close(fresh: str, committed: str, tolerance: float = TOLERANCE) -> bool:
    try:
        a, b = float(fresh), float(committed)
    except ValueError:
        return fresh == committed
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_example_analysis_matches_a_fresh_run(tmp_path):
    main(["--out", str(tmp_path)])
    committed = sorted(p.relative_to(DEFAULT_OUT) for p in DEFAULT_OUT.rglob("*")
                       if p.is_file() and p.name != "README.md")
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert committed == fresh
    for name in ("timesteps.csv", "images.csv", "summary.csv", "skipped.csv"):
        new, old = rows(tmp_path / name), rows(DEFAULT_OUT / name)
        assert len(new) == len(old) and new[0] == old[0], name
        for r, (a, b) in enumerate(zip(new, old)):
            assert len(a) == len(b), (name, r)
            for column, x, y in zip(old[0], a, b):
                assert cells_close(x, y), (name, r, column, x, y)
    number = re.compile(r"-?\d+\.\d+")
    new_md, old_md = (tmp_path / "summary.md").read_text(), (DEFAULT_OUT / "summary.md").read_text()
    assert number.sub("#", new_md) == number.sub("#", old_md)
    assert all(math.isclose(float(a), float(b), abs_tol=SHOWN_DIGITS)
               for a, b in zip(number.findall(new_md), number.findall(old_md)))
    for plot in (tmp_path / "plots").iterdir():
        assert cv2.imread(str(plot)) is not None, plot


def test_the_example_shows_a_worse_last_mask_and_timing():
    images = {(r["image_index"], r["round"]): r for r in csv.DictReader(open(DEFAULT_OUT / "images.csv"))}
    # some round's later clicks made the mask worse: its best timestep comes before its last
    worse = [r for r in images.values() if float(r["best_minus_last"]) > 0]
    assert worse and all(int(r["best_timestep"]) < int(r["last_timestep"]) for r in worse)
    for row in images.values():  # flagged exactly when the loss passes the threshold (0.05)
        assert row["over_prompted"] == str(int(float(row["best_minus_last"]) > 0.05))
    assert all(r["time_to_best_s"] != "" and r["has_ground_truth"] == "1" for r in images.values())
    steps = list(csv.DictReader(open(DEFAULT_OUT / "timesteps.csv")))
    assert all(r["iou_differs"] == "0" for r in steps)  # the export's scores use the demo dataset's ground truth
