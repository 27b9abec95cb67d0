"""``pointprompt sam-maps`` and ``pointprompt evaluate-uncertainty``: the same code as the app."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.analysis.uncertainty_evaluation import EvaluationOptions, evaluate_dataset
from core.cli import main
from core.gradients.sam_maps import MAPS, compute_sam_maps
from core.io.image_datasets import write_category
from core.models.sam_engine import SamEngine
from core.synthetic.scenes import render_scene


@pytest.fixture(scope="module")
def engine():
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


def test_sam_maps_writes_every_map_as_npy_and_png_and_the_scalars(tmp_path, capsys, engine):
    scene = render_scene(np.random.default_rng(3), 180, 260)
    Image.fromarray(scene.image).save(tmp_path / "scene.png")
    code = main(["sam-maps", str(tmp_path / "scene.png"), "--include", "130,90", "--exclude", "5,5",
                 "--device", "cpu", "--out", str(tmp_path / "maps")])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    expected = compute_sam_maps(engine, engine.embed(scene.image), np.array([[130, 90], [5, 5]]), np.array([1, 0]))
    assert printed["maps"] == sorted(expected.maps)
    for name, values in expected.maps.items():
        written = np.load(tmp_path / "maps" / f"{name}.npy")
        assert written.dtype == np.float32 and written.shape == (180, 260)
        np.testing.assert_allclose(written, values, atol=1e-5)  # the same computation, in the same process
        png = np.asarray(Image.open(tmp_path / "maps" / f"{name}.png"))
        assert png.shape == (180, 260, 3)
    scalars = json.loads((tmp_path / "maps" / "scalars.json").read_text())
    assert scalars["points"] == [[130, 90], [5, 5]] and scalars["labels"] == [1, 0]
    assert scalars["scalars"]["predicted_iou"] == pytest.approx(expected.scalars["predicted_iou"], abs=1e-5)


def test_sam_maps_bad_input_is_one_line(tmp_path, capsys):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "img.png")
    assert main(["sam-maps", str(tmp_path / "img.png"), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    assert "prompt set is empty" in capsys.readouterr().err
    assert main(["sam-maps", str(tmp_path / "img.png"), "--include", "40,5", "--out", str(tmp_path / "o"),
                 "--device", "cpu"]) == 2
    assert "outside the 30×20 image" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_evaluate_uncertainty_writes_tables_and_compares_click_strategies(tmp_path, capsys):
    rng = np.random.default_rng(9)
    scenes = [render_scene(rng, 120, 160) for _ in range(3)]
    write_category(tmp_path / "data", "shapes", [s.image for s in scenes], [s.masks[0] for s in scenes])
    code = main(["evaluate-uncertainty", "--dataset", str(tmp_path / "data"), "--clicks", "3", "--device", "cpu",
                 "--out", str(tmp_path / "eval")])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["objects"] == 3 and printed["masks"] == 9
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["mean_iou_by_click"]) == {"error", "suggested", "suggested_truth_label"}
    assert all(len(v) == 3 for v in summary["mean_iou_by_click"].values())
    assert {"predicted_iou", "stability_score", "intervention_total", "voice_iou"} <= set(summary["scalars"])
    assert set(summary["maps"]) <= set(MAPS) and "gradcam" in summary["maps"]
    rows = (tmp_path / "eval" / "per_click.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 3 * 3  # header, 3 objects × 3 sequences × 3 clicks
    assert "| scalar (higher = less sure)" in (tmp_path / "eval" / "summary.md").read_text()


def test_the_summary_measures_what_it_says(engine):
    """A scalar that is the error itself scores AUROC 1; the first click of every sequence is the same."""
    rng = np.random.default_rng(2)
    objects = [(f"s/{i}", s.image, s.masks[0]) for i, s in enumerate(render_scene(rng, 120, 160) for _ in range(4))]
    records, summary = evaluate_dataset(engine, objects, EvaluationOptions(clicks=2))
    first = {seq: [r["iou"] for r in records.rows if r["sequence"] == seq and r["click"] == 1]
             for seq in ("error", "suggested", "suggested_truth_label")}
    assert first["error"] == first["suggested"] == first["suggested_truth_label"]
    for row in records.rows:
        row["oracle"] = 1 - row["iou"]
    from core.analysis.uncertainty_evaluation import summarise

    scored = summarise(records, EvaluationOptions(clicks=2, bad_iou=float(np.median([r["iou"] for r in records.rows]))))
    assert scored["scalars"]["oracle"]["auroc_bad_mask"] == pytest.approx(1.0)
    assert scored["scalars"]["oracle"]["spearman_error"] == pytest.approx(1.0)
