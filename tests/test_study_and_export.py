"""Studies from folders and datasets; a session exported in the PointPrompt layout and the CSV."""

import csv

import cv2
import numpy as np
import pytest

from core.io.image_datasets import write_category
from core.io.pointprompt_results import read_annotator_results
from core.prompting.export import ExportCancelled, export_session
from core.prompting.study import StudyImageError, study_from_folder, study_from_image_datasets, study_order
from tests.session_helpers import scripted_session


def test_folder_study_matches_masks_by_stem(tmp_path):
    images, masks = tmp_path / "imgs", tmp_path / "gt"
    images.mkdir(), masks.mkdir()
    picture = np.full((24, 32, 3), 90, np.uint8)
    for name in ("b.png", "a.jpg", "c.png"):
        cv2.imwrite(str(images / name), picture)
    mask = np.zeros((24, 32), np.uint8)
    mask[4:10, 4:10] = 255
    cv2.imwrite(str(masks / "a_mask.png"), mask)
    cv2.imwrite(str(masks / "b.png"), np.zeros((24, 32), np.uint8))  # empty ground truth
    cv2.imwrite(str(masks / "c.png"), np.zeros((20, 32), np.uint8))  # wrong size
    study = study_from_folder(images, masks)
    assert [(s.image_id, s.category, s.index) for s in study] == [("imgs/a.jpg", "imgs", 0), ("imgs/b.png", "imgs", 1),
                                                                   ("imgs/c.png", "imgs", 2)]
    loaded = study[0].load()
    assert loaded.image.shape == (24, 32, 3) and loaded.truth.sum() == 36 and loaded.note == ""
    empty = study[1].load()
    assert empty.truth is None and "empty" in empty.note and "b.png" in empty.note
    with pytest.raises(StudyImageError, match=r"c.png.*\(20, 32\).*\(24, 32\)|c.png.*20.*24"):
        study[2].load()
    assert [s.index for s in study_order(study, seed=3)] == [s.index for s in study_order(study, seed=3)]
    assert sorted(s.index for s in study_order(study, seed=3)) == [0, 1, 2]


def test_folder_study_errors(tmp_path):
    with pytest.raises(StudyImageError, match="not a folder"):
        study_from_folder(tmp_path / "nope")
    with pytest.raises(StudyImageError, match="holds no images"):
        study_from_folder(tmp_path)
    with pytest.raises(StudyImageError, match="No PointPrompt image dataset"):
        study_from_image_datasets(tmp_path)


def make_dataset(root, truth):
    image = np.zeros(truth.shape + (3,), np.uint8)
    write_category(root, "shapes", [image, image], [truth, truth])
    return study_from_image_datasets(root)


def test_export_round_trips_through_the_reader(tmp_path):
    truth = np.zeros((24, 32), bool)
    truth[5:18, 6:22] = True
    study = make_dataset(tmp_path / "data", truth)
    assert [s.image_id for s in study] == ["shapes/0", "shapes/1"]
    session = scripted_session(tmp_path / "session", truth)
    summary = export_session(session, study, tmp_path / "export")
    assert summary.folders == [tmp_path / "export" / "shapes" / "st1"] and summary.timesteps == 8
    results = read_annotator_results(tmp_path / "export", "shapes", "st1")
    for image_id, index in (("shapes/0", 0), ("shapes/1", 1)):
        record, read = session.records[image_id], results[index]
        assert len(read) == len(record.timesteps)
        assert read.rounds.tolist() == [t.round for t in record.timesteps]
        assert np.allclose(read.scores, [t.iou for t in record.timesteps])
        assert read.sorts[0] == record.best_timestep()
        for t, step in enumerate(record.timesteps):
            assert np.array_equal(read.green[t], step.prompts.of_label(1))
            assert np.array_equal(read.red[t], step.prompts.of_label(0))
            assert np.array_equal(read.mask(t), session.timestep_mask(image_id, t))
    with open(summary.csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and rows[0]["annotator"] == "st1" and rows[0]["category"] == "shapes"
    assert [int(r["round"]) for r in rows[:7]] == [0, 0, 0, 0, 0, 0, 1]
    assert float(rows[5]["iou"]) == pytest.approx(session.records["shapes/0"].timesteps[5].iou)
    assert rows[5]["chosen_output"] == "2" and rows[0]["model"] == "tiny_sam:abc"


def test_export_reports_progress_can_be_cancelled_and_writes_what_it_started_with(tmp_path):
    from tests.session_helpers import decode_and_record

    truth = np.zeros((24, 32), bool)
    truth[5:18, 6:22] = True
    study = make_dataset(tmp_path / "data", truth)
    session = scripted_session(tmp_path / "session", truth)
    with pytest.raises(ExportCancelled, match="after 1 of 2 images"):
        export_session(session, study, tmp_path / "cancelled", cancelled=lambda: (tmp_path / "cancelled").exists())
    assert (tmp_path / "cancelled" / "shapes" / "st1").is_dir()
    assert not (tmp_path / "cancelled" / "st1_timesteps.csv").exists()  # the mark of an incomplete export

    calls = []

    def progress(done, total):  # the annotator keeps working while the export runs
        calls.append((done, total))
        if done == 1:
            session.edit("add", session.records["shapes/1"].prompts.added(9, 9, 0))
            decode_and_record(session, "shapes/1", truth)

    summary = export_session(session, study, tmp_path / "export", progress=progress)
    assert calls == [(1, 2), (2, 2)]
    assert summary.timesteps == 8 and len(session.records["shapes/1"].timesteps) == 2
    assert len(read_annotator_results(tmp_path / "export", "shapes", "st1")[1]) == 1
    with open(summary.csv_path, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 8


def test_export_is_consistent_when_a_candidate_is_chosen_meanwhile_and_a_rerun_is_cancelled(tmp_path):
    truth = np.zeros((24, 32), bool)
    truth[5:18, 6:22] = True
    study = make_dataset(tmp_path / "data", truth)
    session = scripted_session(tmp_path / "session", truth)
    first = session.records["shapes/0"].timesteps[0]
    before = (first.chosen, first.iou)

    def progress(done, total):  # the annotator picks another candidate of an image already written
        if done == 1:
            session.choose("shapes/0", 0, (before[0] + 1) % 3)

    summary = export_session(session, study, tmp_path / "export", progress=progress)
    results = read_annotator_results(tmp_path / "export", "shapes", "st1")
    with open(summary.csv_path, newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["image_id"] == "shapes/0" and r["timestep"] == "0")
    assert int(row["chosen_output"]) == before[0] and float(row["iou"]) == pytest.approx(results[0].scores[0])
    assert results[0].scores[0] == pytest.approx(before[1])

    with pytest.raises(ExportCancelled):  # a cancelled re-export does not leave the old tables behind
        export_session(session, study, tmp_path / "export", cancelled=lambda: True)
    assert not summary.csv_path.exists() and not summary.images_csv_path.exists()


def test_export_numbers_rounds_from_zero_over_rounds_with_timesteps(tmp_path):
    from core.prompting.prompt_set import PromptSet
    from core.prompting.session import AnnotationSession
    from tests.session_helpers import FakeClock, decode_and_record

    truth = np.zeros((24, 32), bool)
    truth[5:18, 6:22] = True
    study = make_dataset(tmp_path / "data", truth)
    session = AnnotationSession.open(tmp_path / "s", "st1", clock=FakeClock())
    session.open_image("shapes/0")
    session.new_round()
    session.new_round()  # two empty rounds first: the first prompted one is round 2 in the session
    session.edit("add", PromptSet().added(10, 10, 1))
    decode_and_record(session, "shapes/0", truth)
    session.new_round()
    session.edit("add", PromptSet().added(12, 12, 1))
    decode_and_record(session, "shapes/0", truth)
    export_session(session, study, tmp_path / "out")
    assert read_annotator_results(tmp_path / "out", "shapes", "st1")[0].rounds.tolist() == [0, 1]
