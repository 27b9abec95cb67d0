"""The dataset trust evaluation end to end, on a tiny generated folder and a small random CNN."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.analysis.trust_dataset import TrustDatasetError, list_labelled_images
from core.analysis.trust_evaluation import EvaluationCancelled, TrustEvaluationOptions, evaluate_trust
from core.gradients.purview import PurviewDetector
from core.gradients.trust_scores import SCORES, TrustOptions, image_trust_scores
from core.io.images import read_image
from tests.trust_helpers import CLASS_NAMES, make_folder, small_record

FAST = TrustEvaluationOptions(batch_size=20, trust=TrustOptions(mc_passes=3), detector_folds=3, grid_points=20)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    return make_folder(tmp_path_factory.mktemp("trust_data"))


def test_evaluation_end_to_end(folders, tmp_path):
    test_dir, ood_dir = folders
    record = small_record(size=24)
    calls = []
    result = evaluate_trust(record, test_dir, ood_dir, corruptions=("noise", "jpeg"), out_dir=tmp_path / "out",
                            progress=lambda done, total: calls.append((done, total)), options=FAST)
    summary = result.summary
    assert calls[-1] == (17, 17) and [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(summary["bad_files"]) == 1 and "broken.png" in summary["bad_files"][0]["path"]
    sets = {row["set"] for row in result.rows}  # blur is computed for the Purview detector only
    assert sets == {"clean", "ood"} | {f"{c}-{level}" for c in ("noise", "jpeg", "blur") for level in range(1, 6)}
    assert sum(row["set"] == "clean" for row in result.rows) == 12
    assert set(summary["clean"]["scores"]) == set(SCORES)
    for name, metrics in summary["clean"]["scores"].items():
        assert 0 <= metrics["auac"] <= 1 and math.isclose(metrics["auac"], 1 - metrics["aurc"]), name
    assert set(summary["ood"]["scores"]["gradtrust"]) == {"auroc", "aupr_in", "aupr_out", "fpr95",
                                                         "detection_accuracy"}
    assert set(summary["corruptions"]) == {"noise", "jpeg"} and set(summary["corruptions"]["noise"]) == set("12345")
    assert np.isfinite(summary["corruptions"]["noise"]["5"]["detection"]["purview"]["auroc"])
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"per_image.csv", "summary.json", "summary.md",
                                               "purview_features.npz", "purview_detector.json"}
    with (out / "per_image.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(result.rows) and "gradtrust_released" in rows[0]
    assert json.loads((out / "summary.json").read_text())["classes"] == 3
    markdown = (out / "summary.md").read_text()
    assert "Trust scores against baselines, clean and corrupted" in markdown and "OOD detection" in markdown
    assert "Detecting noise" in markdown and "Detecting blur" not in markdown
    with np.load(out / "purview_features.npz") as saved:  # numeric and string arrays: no pickle needed
        assert saved["features"].shape == (len(result.rows), len(result.layer_names))
    detector = PurviewDetector.load(out / "purview_detector.json")
    image = read_image(next((test_dir / "green").glob("*.png")))
    single = image_trust_scores(record, image, TrustOptions(mc_passes=3), detector=detector)
    assert 0 <= single["purview"] <= 1 and single["prediction"] in (0.0, 1.0, 2.0)


def test_csv_source_without_ood_or_corruptions(folders, tmp_path):
    test_dir, _ = folders
    lines = ["path,label"] + [f"{p.relative_to(test_dir)},{p.parent.name}" for p in sorted(test_dir.rglob("[0-9].png"))]
    lines += ["missing.png,red", "red/0.png,zebra"]
    (test_dir / "list.csv").write_text("\n".join(lines) + "\n")
    options = TrustEvaluationOptions(batch_size=8, trust=TrustOptions(scores=("msp", "margin", "gradtrust")))
    result = evaluate_trust(small_record(size=24), test_dir / "list.csv", options=options)
    assert {row["set"] for row in result.rows} == {"clean"}
    assert result.summary["ood"] is None and result.summary["corruptions"] == {}
    assert len(result.summary["bad_files"]) == 1 and "missing.png" in result.summary["bad_files"][0]["path"]
    assert any("zebra" in problem for problem in result.summary["problems"])
    assert set(result.summary["clean"]["scores"]) == {"msp", "margin", "gradtrust"}


def test_cancel_and_unusable_sources(folders, tmp_path):
    test_dir, ood_dir = folders
    with pytest.raises(EvaluationCancelled):
        evaluate_trust(small_record(size=24), test_dir, cancelled=lambda: True, out_dir=tmp_path / "never",
                       options=FAST)
    assert not (tmp_path / "never").exists()
    with pytest.raises(TrustDatasetError, match="no image of the classifier's classes"):
        list_labelled_images(ood_dir, CLASS_NAMES)
    with pytest.raises(ValueError, match="unknown corruption"):
        evaluate_trust(small_record(size=24), test_dir, corruptions=("fog",), options=FAST)


def test_folder_listing_accepts_class_indices_and_reports_strangers(tmp_path, rng):
    from tests.trust_helpers import colour_image, write_png

    write_png(tmp_path / "1" / "a.png", colour_image(rng, 1))
    write_png(tmp_path / "blue" / "deep" / "b.png", colour_image(rng, 2))
    write_png(tmp_path / "purple" / "c.png", colour_image(rng, 0))
    (tmp_path / "blue" / "notes.txt").write_text("not an image")
    items, problems = list_labelled_images(tmp_path, CLASS_NAMES)
    assert sorted((item.path.name, item.label) for item in items) == [("a.png", 1), ("b.png", 2)]
    assert len(problems) == 1 and "purple" in problems[0]
