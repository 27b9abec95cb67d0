"""Replaying a study: recorded IoUs come back, results stream to shards, a rerun resumes."""

import json
import shutil

import numpy as np
import pytest

from core.analysis.auto_prompt import auto_prompt
from core.analysis.set_scoring import score_prompt_sets, truth_tensor
from core.analysis.study_replay import REPRODUCTION_TOLERANCE, ReplayError, replay_study
from core.io.image_datasets import category_entries
from core.io.pointprompt_results import ResultStep, write_image_results
from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET, RESOURCES
from core.prompting.metrics import iou
from tests.replay_helpers import csv_texts, tiny_study

EXAMPLE_EXPORT = RESOURCES.parent / "docs" / "example-export"


@pytest.fixture(scope="module")
def engine():
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


def decode_masks(engine, embedding, green, red):
    """SAM's (3, H, W) candidate masks for (n, 2) inclusion and (m, 2) exclusion points (x, y)."""
    return engine.decode(embedding, np.concatenate([green, red]), [1] * len(green) + [0] * len(red)).masks


def test_scores_are_the_ious_of_the_engines_own_masks(engine):
    item = category_entries(DEMO_DATASET, "star")[2].read()
    embedding = engine.embed(item.image)
    rng = np.random.default_rng(5)
    sets = [(rng.integers(0, [320, 240], size=(n, 2)).astype(float), rng.integers(0, [320, 240], size=(m, 2)).astype(float))
            for n, m in [(1, 0), (1, 1), (2, 1), (1, 1), (2, 1), (0, 2), (3, 2), (2, 1)]] + [(np.zeros((0, 2)),) * 2]
    expected = [iou(decode_masks(engine, embedding, *s)[0], item.truth) if len(s[0]) + len(s[1]) else 0.0
                for s in sets]
    truth = truth_tensor(engine, item.truth)
    assert score_prompt_sets(engine, embedding, truth, sets, batch_size=1).tolist() == expected  # bit for bit
    # batched decoder calls differ from single ones in the last bits, which can flip a pixel whose logit is
    # within rounding of 0 (one pixel moves this IoU by about 1e-5): a few pixels at most
    np.testing.assert_allclose(score_prompt_sets(engine, embedding, truth, sets), expected, rtol=0,
                               atol=REPRODUCTION_TOLERANCE)
    second = [iou(decode_masks(engine, embedding, *s)[1], item.truth) for s in sets[:3]]
    assert score_prompt_sets(engine, embedding, truth, sets[:3], output=1, batch_size=1).tolist() == second


def reproduction(out):
    summary = json.loads((out / "replay_summary.json").read_text())
    return summary["reproduction"], summary


def test_replay_reproduces_results_written_with_the_same_model(engine, tmp_path):
    auto_prompt(engine, DEMO_DATASET, "kmedoids,error_region", tmp_path / "results", categories=["star", "bar"],
                limit=2, max_clicks=4)
    for batch_size in (64, 1):
        out = tmp_path / f"replay-{batch_size}"
        replay_study(tmp_path / "results", DEMO_DATASET, out, engine, interventions="none", batch_size=batch_size)
        found, summary = reproduction(out)
        assert summary["images_in_tables"] == 4 and summary["skipped"] == 0
        assert found["compared"] == found["timesteps"] > 20
        assert found["max_abs_difference"] <= REPRODUCTION_TOLERANCE and found["over_tolerance"] == 0


def test_replay_reproduces_the_example_export_recorded_in_the_app(engine, tmp_path):
    summary = replay_study(EXAMPLE_EXPORT, DEMO_DATASET, tmp_path / "out", engine)
    # recorded on another machine: a network's last bits differ there (tests/test_example_export.py)
    assert summary["reproduction"]["compared"] == 9 and summary["reproduction"]["max_abs_difference"] <= 0.01
    rows = (tmp_path / "out" / "timesteps.csv").read_text().splitlines()
    recorded = (EXAMPLE_EXPORT / "st1_timesteps.csv").read_text().splitlines()[4].split(",")  # star/0, timestep 3
    n_inclusion, n_exclusion = recorded[6], recorded[7]
    assert rows[4].startswith(f"star,st1,0,3,0,{n_inclusion},{n_exclusion},remove,,")  # the example session's removal
    assert {r["intervention"] for r in summary["summary"]} == {"leave_one_out", "move_toward", "move_away", "reorder"}
    assert (tmp_path / "out" / "summary.md").read_text().startswith("# Intervention replay")


def test_an_inclusion_click_on_the_background_hurts(engine, tmp_path):
    from scipy.ndimage import distance_transform_edt

    deepest = lambda region: np.array(np.unravel_index(np.argmax(distance_transform_edt(region)), region.shape))[::-1]  # noqa: E731

    def sequence(item):
        """An inclusion click at the object's centre, then one deep in the background (x, y)."""
        centre, far = deepest(item.truth).reshape(1, 2), deepest(~item.truth).reshape(1, 2)
        outside = np.argwhere(~item.truth)[0][::-1].reshape(1, 2)
        embedding = engine.embed(item.image)
        steps = []
        for green, red in [(centre, outside), (np.concatenate([centre, far]), outside)]:
            mask = decode_masks(engine, embedding, green, red)[0]
            steps.append(ResultStep(0, green, red, iou(mask, item.truth), mask))
        return steps

    # the polygon image on which the background click hurts most: which one depends on the model
    entries = category_entries(DEMO_DATASET, "polygon")[:4]
    candidates = {index: sequence(entry.read()) for index, entry in enumerate(entries)}
    index, steps = max(candidates.items(), key=lambda kv: kv[1][0].score - kv[1][1].score)
    assert steps[0].score - steps[1].score > 0.01, "no background click hurt: the premise of this test"
    write_image_results(tmp_path / "results" / "polygon" / "st1", index, steps)
    summary = replay_study(tmp_path / "results", DEMO_DATASET, tmp_path / "out", engine, interventions="leave-one-out")
    row = [r for r in summary["summary"] if r["category"] == "polygon" and r["annotator"] == "st1"][0]
    assert row["clicks"] == 3 and row["share_final_up"] >= 1 / 3 and row["clicks_after_best"] == 1
    assert row["share_final_up_after_best"] == 1  # the click after the best timestep hurt
    clicks = [line.split(",") for line in (tmp_path / "out" / "clicks.csv").read_text().splitlines()[1:]]
    delta = {int(c[4]): float(c[19]) for c in clicks}  # click -> delta_final of its leave-one-out
    assert delta[2] > 0.01 and delta[0] < -0.5  # the background click hurt; the first inclusion click made the mask


def test_resume_skips_finished_images_and_gives_the_same_rows(engine, tmp_path):
    dataset, results = tiny_study(tmp_path, engine)
    whole = replay_study(results, dataset, tmp_path / "whole", engine)
    assert whole["images_in_tables"] == 4 and whole["reproduction"]["over_tolerance"] == 0
    calls = []
    first = replay_study(results, dataset, tmp_path / "resumed", engine, progress=lambda d, n: calls.append(d),
                         cancelled=lambda: len(calls) >= 2)
    assert first["cancelled"] and first["images_replayed"] == 1 and first["images_in_tables"] == 1
    second = replay_study(results, dataset, tmp_path / "resumed", engine)
    assert (second["images_resumed"], second["images_replayed"]) == (1, 3)
    assert csv_texts(tmp_path / "resumed") == csv_texts(tmp_path / "whole")
    # a kill while the last line was written: the torn line is cut off and that image replayed again
    shard = tmp_path / "resumed" / "shards" / "cat01.jsonl"
    shard.write_bytes(shard.read_bytes()[:-100])
    third = replay_study(results, dataset, tmp_path / "resumed", engine)
    assert (third["images_resumed"], third["images_replayed"]) == (3, 1)
    assert shard.read_bytes().count(b"\n") == 2 and csv_texts(tmp_path / "resumed") == csv_texts(tmp_path / "whole")
    assert replay_study(results, dataset, tmp_path / "resumed", engine)["images_replayed"] == 0
    with pytest.raises(ReplayError, match="interventions"):
        replay_study(results, dataset, tmp_path / "resumed", engine, interventions="none")


def test_unreadable_results_cost_only_their_image(engine, tmp_path):
    dataset, results = tiny_study(tmp_path, engine, categories=1, images=3, timesteps=4)
    (results / "cat00" / "st1" / "scores" / "1score.npy").unlink()
    shutil.rmtree(dataset / "cat00")
    from core.synthetic.prompt_study import synthetic_image
    from core.io.image_datasets import write_category

    pictures = [synthetic_image(np.random.default_rng(i), (96, 128)) for i in range(2)]  # image 2 is gone
    write_category(dataset, "cat00", [p for p, _ in pictures], [t for _, t in pictures])
    summary = replay_study(results, dataset, tmp_path / "out", engine, interventions="none")
    assert summary["images_in_tables"] == 3 and summary["skipped"] == 2
    skipped = (tmp_path / "out" / "skipped.csv").read_text()
    assert "1score.npy" in skipped and "has no image 2" in skipped
