"""The analysis of a generated study: its tables match the session's own log, event for event.

A scripted annotator works through two demo images with our session and export (no SAM: a
stand-in model answers with the ground truth cut to disks around the points), with a clock
that makes the active time known: a revisit, time away, and an empty round.
"""

import csv
import shutil

import numpy as np
import pytest

from core.analysis.prompt_analysis import AnalysisCancelled, AnalysisOptions
from core.analysis.prompt_report import OUTPUT_FILES, analyze
from core.paths import DEMO_DATASET
from core.prompting.click_simulation import most_interior_point
from core.prompting.export import export_session
from core.prompting.metrics import iou_and_dice
from core.prompting.session import AnnotationSession, best_timestep
from core.prompting.study import study_from_image_datasets

# active seconds since the round began, per timestep, from the clock script in run_study
EXPECTED_ELAPSED = {0: [3.0, 6.0, 11.0, 20.0, 3.0], 1: [4.0]}
EXPECTED_ROUNDS = {0: [0, 0, 0, 0, 1], 1: [0]}


def disks(shape, points, radius):
    rows, cols = np.indices(shape)
    out = np.zeros(shape, bool)
    for x, y in points:
        out |= (cols - x) ** 2 + (rows - y) ** 2 <= radius ** 2
    return out


class ScriptedStudy:
    """A session on the first two demo stars, driven by set times (Unix seconds)."""

    def __init__(self, folder):
        self.now = 0.0
        self.images = study_from_image_datasets(DEMO_DATASET, ["star"])[:2]
        self.loaded = {image.image_id: image.load() for image in self.images}
        self.session = AnnotationSession.open(folder, "st1", model="stand-in", clock=lambda: self.now)

    def at(self, t):
        self.now = float(t)
        return self.session

    def click(self, t_edit, t_answer, x, y, label):
        image_id = self.session.current
        prompts = self.session.record(image_id).prompts.added(x, y, label)
        self.at(t_edit).edit("add", prompts, x=x, y=y, label=label)
        truth = self.loaded[image_id].truth
        mask = truth & disks(truth.shape, prompts.of_label(1), 20) & ~disks(truth.shape, prompts.of_label(0), 9)
        score = iou_and_dice(mask, truth)
        self.at(t_answer).record_timestep(image_id, prompts, np.stack([mask, mask, mask]), [0.9, 0.8, 0.7],
                                          [score[0]] * 3, [score[1]] * 3, chosen=0, latency_s=0.01)


def star_point(loaded, k):
    """A point of the ground truth: the k-th of its pixels in row-major order, spread out."""
    rows, cols = np.nonzero(loaded.truth)
    pick = (k * 997) % rows.size
    return int(cols[pick]), int(rows[pick])


def run_study(folder):
    study = ScriptedStudy(folder)
    star0, star1 = (study.images[i].image_id for i in (0, 1))
    study.at(100).open_image(star0)
    x, y = most_interior_point(study.loaded[star0].truth)
    study.click(102, 103, x, y, 1)
    study.click(105, 106, *star_point(study.loaded[star0], 1), 1)  # a second inclusion: better (the best)
    study.click(110, 111, x + 3, y, 0)  # an exclusion on the object: worse
    study.at(115).close_image()
    study.at(120).open_image(star1)
    study.click(121, 124, *star_point(study.loaded[star1], 3), 1)
    study.at(125).close_image()
    study.at(200).open_image(star0)  # back after 85 s away: they do not count
    study.click(203, 205, 5, 5, 0)  # an exclusion in the background: no better
    study.at(206).new_round()
    study.at(207).new_round()  # an empty round: the export numbers the next one 1
    study.click(209, 210, *star_point(study.loaded[star0], 5), 1)
    study.at(213).close_image()
    study.session.close()
    return study


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def number(text):
    return None if text == "" else float(text)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    scripted = run_study(root / "session")
    session = AnnotationSession.load(root / "session")
    export_session(session, scripted.images, root / "export")
    return root, session, scripted.images


def test_tables_match_the_session_log(study, tmp_path):
    root, session, images = study
    summary = analyze(root / "export", DEMO_DATASET, tmp_path, options=AnalysisOptions(sessions=[root / "session"]))
    assert summary["timesteps"] == 6 and summary["rounds"] == 3 and summary["skipped"] == 0
    rows = read_csv(tmp_path / "timesteps.csv")
    assert [(r["image_index"], r["timestep"]) for r in rows] == [("0", str(t)) for t in range(5)] + [("1", "0")]
    for image in images:
        steps = session.records[image.image_id].timesteps
        mine = [r for r in rows if int(r["image_index"]) == image.index]
        assert len(mine) == len(steps)
        for row, step in zip(mine, steps):
            assert (int(row["n_inclusion"]), int(row["n_exclusion"])) == step.prompts.counts
            assert number(row["iou_recorded"]) == pytest.approx(step.iou, abs=1e-9)
            assert number(row["iou_recomputed"]) == pytest.approx(step.iou, abs=1e-9)
            assert row["iou_differs"] == "0"
        assert [int(r["round"]) for r in mine] == EXPECTED_ROUNDS[image.index]
        assert [number(r["elapsed_s"]) for r in mine] == EXPECTED_ELAPSED[image.index]
    rounds = read_csv(tmp_path / "images.csv")
    assert [(r["image_index"], r["round"]) for r in rounds] == [("0", "0"), ("0", "1"), ("1", "0")]
    steps = session.records[images[0].image_id].timesteps
    best = best_timestep(steps, 0)  # the session's own best of its round 0
    assert best == 1 and steps[3].iou < steps[1].iou  # the script over-prompts after its second click
    first_round = rounds[0]
    assert int(first_round["best_timestep"]) == best
    assert number(first_round["best_iou"]) == pytest.approx(steps[best].iou)
    assert number(first_round["best_minus_last"]) == pytest.approx(steps[best].iou - steps[3].iou)
    assert first_round["over_prompted"] == "1"
    assert number(first_round["best_minus_first"]) == pytest.approx(steps[best].iou - steps[0].iou)
    assert number(first_round["time_to_best_s"]) == EXPECTED_ELAPSED[0][best]
    assert int(first_round["timesteps_after_best"]) == 3 - best
    assert (int(first_round["n_inclusion_last"]), int(first_round["n_exclusion_last"])) == steps[3].prompts.counts
    assert first_round["has_ground_truth"] == "1" and number(first_round["mask_share"]) > 0
    assert number(rounds[1]["time_to_best_s"]) == 3.0  # from the second "New round", not the first
    overall = read_csv(tmp_path / "summary.csv")
    assert [(r["category"], r["annotator"], r["rounds"], r["timesteps"]) for r in overall] == [
        ("star", "st1", "3", "6")]
    assert read_csv(tmp_path / "skipped.csv") == []
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(
        ["iou_per_timestep.png", "over_prompting_loss.png", "prompt_features_vs_iou.png",
         "data_features_vs_best_iou.png"])


def test_an_exports_own_log_is_found_and_a_stale_log_is_named(study, tmp_path):
    root, _, images = study
    export = tmp_path / "export"
    shutil.copytree(root / "export", export)
    (export / "st1_maps" / "star").mkdir(parents=True)  # an export with --maps: not a category, never skipped
    (export / "st1_maps" / "star" / "0_0_gradcam.png").write_bytes(b"")
    analyze(export, None, tmp_path / "no-log", plots=False)
    assert all(r["elapsed_s"] == "" for r in read_csv(tmp_path / "no-log" / "timesteps.csv"))
    shutil.copyfile(root / "session" / "events.jsonl", export / "session-events.jsonl")
    analyze(export, None, tmp_path / "own-log", plots=False)
    rows = read_csv(tmp_path / "own-log" / "timesteps.csv")
    assert [number(r["elapsed_s"]) for r in rows] == EXPECTED_ELAPSED[0] + EXPECTED_ELAPSED[1]
    assert all(r["iou_recomputed"] == "" and r["coverage"] == "" for r in rows)  # no dataset: no ground truth
    assert all(r["iou"] == r["iou_recorded"] for r in rows)
    assert number(rows[2]["exclusion_spread"]) == 0.0  # needs only the image size, from the mask PNGs
    session = AnnotationSession.open(root / "session", "st1")  # the session goes on after the export
    session.open_image(images[1].image_id)
    prompts = session.record(images[1].image_id).prompts.added(3, 3, 0)
    session.edit("add", prompts)
    mask = np.zeros((240, 320), bool)
    session.record_timestep(images[1].image_id, prompts, np.stack([mask] * 3), [0.5] * 3, [0.0] * 3, [0.0] * 3, 0, 0.01)
    session.close()
    analyze(export, None, tmp_path / "stale", options=AnalysisOptions(sessions=[root / "session"]), plots=False)
    skipped = read_csv(tmp_path / "stale" / "skipped.csv")
    assert len(skipped) == 1 and skipped[0]["image_index"] == "1" and "2 timesteps" in skipped[0]["reason"]
    assert skipped[0]["effect"] == "time columns left empty"
    rows = read_csv(tmp_path / "stale" / "timesteps.csv")
    assert [r["elapsed_s"] for r in rows if r["image_index"] == "1"] == [""]


def test_progress_and_cancel(study, tmp_path):
    root, _, _ = study
    seen = []
    analyze(root / "export", None, tmp_path, progress=lambda done, total: seen.append((done, total)), plots=False)
    assert seen[-1] == (2, 2) and all(total == 2 for _, total in seen)
    with pytest.raises(AnalysisCancelled):
        analyze(root / "export", None, tmp_path, cancelled=lambda: True)
    assert not any((tmp_path / name).exists() for name in OUTPUT_FILES)  # the earlier analysis's files are gone too
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
