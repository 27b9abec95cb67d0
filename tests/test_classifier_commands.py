"""`pointprompt explain`, `trust` and `evaluate-trust` on the shipped demo classifier, end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.gradients.trust_scores import SCORES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
from make_demo_classifier_data import write_split  # noqa: E402

from core.synthetic.shape_classes import CLASSES, OOD_CLASSES  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo-classifier-data")
    write_split(root, "test", seed=11, per_class=2, classes=CLASSES, size=64)
    write_split(root, "ood", seed=12, per_class=2, classes=OOD_CLASSES, size=64)
    return root


def _run(argv: list[str], capsys) -> tuple[int, dict | str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def test_explain_writes_a_map_at_the_image_size(data, tmp_path, capsys):
    image = data / "test" / "star" / "star_0000.png"
    out = tmp_path / "map.npy"
    code, result = _run(["explain", str(image), "--classifier", "demo", "--method", "contrast",
                         "--contrast-class", "disc", "--size", "96", "--out", str(out)], capsys)
    assert code == 0, result
    saved = np.load(out, allow_pickle=False)
    assert saved.shape == (64, 64) and saved.dtype == np.float32
    assert 0.0 <= saved.min() and saved.max() <= 1.0 and saved.max() > 0
    assert result["contrast"] == "disc" and Path(result["preview"]).is_file()


def test_explain_names_an_unknown_class(data, tmp_path, capsys):
    image = data / "test" / "disc" / "disc_0000.png"
    code, error = _run(["explain", str(image), "--classifier", "demo", "--target-class", "zebra",
                        "--out", str(tmp_path / "m.npy")], capsys)
    assert code == 2 and "zebra" in error and "disc" in error
    assert not (tmp_path / "m.npy").exists()


def test_trust_writes_every_score_by_name(data, tmp_path, capsys):
    image = data / "test" / "ring" / "ring_0001.png"
    out = tmp_path / "scores.json"
    code, result = _run(["trust", str(image), "--classifier", "demo", "--out", str(out)], capsys)
    assert code == 0, result
    written = json.loads(out.read_text())
    assert set(written["scores"]) == set(SCORES) - {"purview"}  # the detector score needs --detector
    assert all(value is not None and np.isfinite(value) for value in written["scores"].values())
    assert written["predicted"] in CLASSES
    assert abs(max(written["top3"].values()) - written["scores"]["msp"]) < 1e-3  # the top probability is the MSP


def test_evaluate_trust_then_trust_with_its_detector(data, tmp_path, capsys):
    out = tmp_path / "eval"
    code, result = _run(["evaluate-trust", "--images", str(data / "test"), "--ood", str(data / "ood"),
                         "--corrupt", "noise", "--classifier", "demo", "--quiet", "--out", str(out)], capsys)
    assert code == 0, result
    assert result["images"] == 2 * len(CLASSES) and result["bad_files"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["corruptions"]["noise"]) == {"1", "2", "3", "4", "5"}
    assert summary["ood"]["images"] == 2 * len(OOD_CLASSES)
    assert all(np.isfinite(summary["clean"]["scores"][name]["auac"]) for name in SCORES)
    assert "Detecting noise" in (out / "summary.md").read_text()
    image = data / "ood" / "heart" / "heart_0000.png"
    code, result = _run(["trust", str(image), "--classifier", "demo", "--detector", str(out / "purview_detector.json"),
                         "--out", str(tmp_path / "s.json")], capsys)
    assert code == 0, result
    assert 0.0 <= result["scores"]["purview"] <= 1.0


def test_evaluate_trust_refuses_an_unknown_corruption(data, tmp_path, capsys):
    code, error = _run(["evaluate-trust", "--images", str(data / "test"), "--corrupt", "noise,fog",
                        "--classifier", "demo", "--out", str(tmp_path / "e")], capsys)
    assert code == 2 and "fog" in error and "noise,blur,contrast,jpeg" in error
