"""auto_prompt over the demo dataset with the shipped tiny SAM: layout, scores, summary, resume, cancel."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from core.analysis.auto_prompt import AutoPromptError, annotator_name, auto_prompt, resolve_strategies
from core.analysis.point_strategies import STRATEGIES
from core.analysis.prompt_prefixes import decode_first_masks, prompt_prefixes
from core.io.image_datasets import category_entries
from core.io.pointprompt_results import list_annotators, read_annotator_results
from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET
from core.prompting.metrics import iou

STRATEGY = "kmedoids,error_region,random"


@pytest.fixture(scope="module")
def engine() -> SamEngine:
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


@pytest.fixture(scope="module")
def run(engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("auto")
    seen = []
    summary = auto_prompt(engine, DEMO_DATASET, STRATEGY, out, categories=["star", "bar"], limit=1,
                          max_clicks=4, progress=lambda done, total: seen.append((done, total)))
    return out, summary, seen


def test_layout_reads_back_and_recorded_ious_match_the_mask_pngs(run):
    out, summary, seen = run
    assert seen == [(1, 2), (2, 2)]
    assert summary["images_done"] == 2 and not summary["errors"] and not summary["skipped"]
    for category in ("star", "bar"):
        assert list_annotators(out, category) == ["auto_error_region", "auto_kmedoids", "auto_random"]
        truths = {e.index: e.read().truth for e in category_entries(DEMO_DATASET, category)[:1]}
        for strategy in ("kmedoids", "random", "error_region"):
            results = read_annotator_results(out, category, annotator_name(strategy))
            assert sorted(results) == [0]
            for index, result in results.items():
                recomputed = [iou(result.mask(t), truths[index]) for t in range(len(result))]
                np.testing.assert_allclose(result.scores, recomputed, rtol=0, atol=1e-12)
                assert (result.rounds == 0).all() and result.scores[result.sorts[0]] == result.scores.max()
                if strategy == "error_region":
                    clicks = [len(g) + len(r) for g, r in zip(result.green, result.red)]
                    assert clicks == list(range(1, len(result) + 1))
                    assert len(result) <= 4
                else:  # the demo's budget, 8 inclusion and 2 exclusion points, added one at a time
                    sizes = [(len(g), len(r)) for g, r in zip(result.green, result.red)]
                    assert sizes == [(1, 1), (2, 1), (2, 2)] + [(k, 2) for k in range(3, 9)]
                    green, red = result.green[-1].astype(int), result.red[-1].astype(int)
                    assert truths[index][green[:, 1], green[:, 0]].all()
                    assert not truths[index][red[:, 1], red[:, 0]].any()


def test_summary_files_agree_with_the_returned_summary(run):
    out, summary, _ = run
    on_disk = json.loads((out / "auto_prompt_summary.json").read_text())
    assert set(on_disk["strategies"]) == {"kmedoids", "error_region", "random"}
    assert on_disk["budgets"] == {"star": [8, 2], "bar": [8, 2]}
    stats = summary["strategies"]["error_region"]["all"]
    assert stats["images"] == 2 and 0 <= stats["failed85"] <= 1 and 1 <= stats["noc85"] <= 4
    assert on_disk["strategies"]["error_region"]["all"]["noc90"] == pytest.approx(stats["noc90"])
    rows = list(csv.DictReader((out / "auto_prompt_images.csv").open()))
    assert len(rows) == 6
    kmedoids_star = [float(r["best_iou"]) for r in rows if r["strategy"] == "kmedoids" and r["category"] == "star"]
    assert np.mean(kmedoids_star) == pytest.approx(summary["strategies"]["kmedoids"]["star"]["best_iou"], abs=1e-5)
    table = list(csv.DictReader((out / "auto_prompt_summary.csv").open()))
    assert [(r["strategy"], r["category"]) for r in table][:3] == [("kmedoids", "star"), ("kmedoids", "bar"),
                                                                   ("kmedoids", "all")]


def test_resume_skips_finished_images_and_redoes_an_incomplete_one(engine, run):
    out, first, _ = run
    marker = out / "star" / "auto_kmedoids" / "masks" / "0_0_mask.png"
    stamp = marker.stat().st_mtime_ns
    again = auto_prompt(engine, DEMO_DATASET, STRATEGY, out, categories=["star", "bar"], limit=1, max_clicks=4)
    assert again["images_done"] == 0 and again["images_resumed"] == 2
    assert marker.stat().st_mtime_ns == stamp
    assert again["strategies"] == first["strategies"]
    (out / "bar" / "auto_random" / "sorts" / "0_sort.npy").unlink()  # as if a crash stopped its write
    (out / "bar" / "auto_random" / "masks" / "0_3_mask.png").unlink()
    redone = auto_prompt(engine, DEMO_DATASET, STRATEGY, out, categories=["star", "bar"], limit=1, max_clicks=4)
    assert redone["images_done"] == 1 and redone["images_resumed"] == 1
    assert redone["strategies"] == first["strategies"]  # the same seed places the same points


def test_other_settings_are_refused_and_cancel_stops_between_images(engine, run, tmp_path):
    out, _, _ = run
    with pytest.raises(AutoPromptError, match="seed"):
        auto_prompt(engine, DEMO_DATASET, STRATEGY, out, categories=["star"], limit=1, max_clicks=4, seed=1)
    calls = []
    summary = auto_prompt(engine, DEMO_DATASET, "max_distance", tmp_path, categories=["star"], limit=3,
                          cancelled=lambda: len(calls) > 0, progress=lambda done, total: calls.append(done))
    assert summary["cancelled"] and summary["images_done"] == 1 and calls == [1]
    assert summary["strategies"]["max_distance"]["star"]["images"] == 1
    with pytest.raises(ValueError, match="unknown strategy"):
        resolve_strategies("kmeans")
    with pytest.raises(ValueError, match="no category"):
        auto_prompt(engine, DEMO_DATASET, "random", tmp_path, categories=["Cow"])
    assert resolve_strategies("all")[-1] == "error_region" and len(resolve_strategies("all")) == len(STRATEGIES) + 1


def test_batched_decoding_gives_the_masks_of_one_by_one_decoding(engine):
    item = category_entries(DEMO_DATASET, "polygon")[0].read()
    embedding = engine.embed(item.image)
    prompts = []
    for name in ("kmedoids", "random"):
        prompts += prompt_prefixes(*STRATEGIES[name](item.truth, item.image, 3, 1, np.random.default_rng(0)))
    batched = decode_first_masks(engine, embedding, prompts, batch_size=2)
    for (green, red), mask in zip(prompts, batched):
        points = np.concatenate([green, red])
        labels = np.array([1] * len(green) + [0] * len(red))
        single = engine.decode(embedding, points, labels).masks[0]
        assert np.count_nonzero(single != mask) <= 0.001 * mask.size  # equal but for a float's last bit


def test_the_command_line_writes_results_that_analyze_reads(tmp_path, capsys):
    import json

    from core.cli import main

    out = tmp_path / "auto"
    assert main(["auto-prompt", "--dataset", str(DEMO_DATASET), "--strategy", "random,error_region", "--category",
                 "ellipse", "--limit", "1", "--max-clicks", "3", "--device", "cpu", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["images_done"] == 1 and set(printed["all"]) == {"random", "error_region"}
    assert main(["analyze", str(out), "--dataset", str(DEMO_DATASET), "--no-plots", "--out", str(tmp_path / "a")]) == 0
    rows = (tmp_path / "a" / "images.csv").read_text().splitlines()
    assert any("auto_random" in row for row in rows) and any("auto_error_region" in row for row in rows)
    assert main(["auto-prompt", "--dataset", str(DEMO_DATASET), "--strategy", "nonsense", "--device", "cpu",
                 "--out", str(out)]) == 2
    assert "nonsense" in capsys.readouterr().err
