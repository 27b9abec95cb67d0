"""AnnotationSession: events, timesteps, rounds, stale answers, replay, write failures."""

import numpy as np
import pytest

from core.io.event_log import read_events
from core.prompting.prompt_set import PromptSet
from core.prompting.session import AnnotationSession
from tests.session_helpers import FakeClock, candidate_masks, decode_and_record, scripted_session


@pytest.fixture
def truth():
    mask = np.zeros((24, 32), bool)
    mask[5:18, 6:22] = True
    return mask


def state(session):
    """Everything a user sees, for comparing a live session with a replayed one."""
    return {image_id: (r.round, r.prompts, [(t.round, t.prompts, t.chosen, t.ious, t.predicted_ious, t.mask_files)
                                            for t in r.timesteps], round(r.seconds, 6))
            for image_id, r in session.records.items()}, session.current


def test_scripted_session_records_rounds_and_timesteps(tmp_path, truth):
    session = scripted_session(tmp_path, truth)
    first = session.records["shapes/0"]
    assert [t.round for t in first.timesteps] == [0, 0, 0, 0, 0, 0, 1]
    assert [len(t.prompts) for t in first.timesteps] == [1, 2, 3, 2, 3, 3, 1]
    assert first.timesteps[5].chosen == 2 and first.timesteps[5].iou == first.timesteps[5].ious[2]
    assert first.round == 1 and first.prompts == PromptSet().added(15, 15, 1)
    mask = session.timestep_mask("shapes/0", 5)
    assert np.array_equal(mask, candidate_masks(first.timesteps[5].prompts)[2])
    assert first.best_timestep() is not None
    assert first.best_iou == max(t.iou for t in first.timesteps)
    kinds = [e["event"] for e in read_events(tmp_path / "events.jsonl")]
    assert kinds[:3] == ["session", "open", "edit"] and "round" in kinds and kinds.count("timestep") == 8
    timestep = next(e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "timestep")
    assert timestep["model"] == "tiny_sam:abc" and timestep["device"] == "cpu" and timestep["latency_ms"] == 12.0


def test_stale_answer_is_not_a_timestep(tmp_path, truth):
    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    old = PromptSet().added(1, 1, 1)
    session.edit("add", old)
    session.edit("add", old.added(5, 5, 0))
    masks = candidate_masks(old)
    assert session.record_timestep("a", old, masks, [1, 1, 1], [None] * 3, [None] * 3, 0, 0.01) is None
    assert session.records["a"].timesteps == []


def test_replay_after_crash_gives_the_same_state(tmp_path, truth):
    live = scripted_session(tmp_path, truth)
    before = state(live)
    del live  # the process "dies" here without closing anything
    resumed = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    records, current = state(resumed)
    assert current is None and resumed.resumed_image == "shapes/1"
    assert {k: v[:3] for k, v in records.items()} == {k: v[:3] for k, v in before[0].items()}
    # time on the open image counts up to the last logged event
    assert resumed.records["shapes/1"].seconds > 0
    kinds = [e["event"] for e in resumed.events[-2:]]
    assert kinds == ["close", "session"]


def test_choose_changes_the_timestep_mask_and_replays(tmp_path, truth):
    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    session.edit("add", PromptSet().added(10, 10, 1))
    decode_and_record(session, "a", truth)
    session.choose("a", 0, 1)
    assert session.records["a"].timesteps[0].chosen == 1
    again = AnnotationSession.load(tmp_path)
    assert again.records["a"].timesteps[0].chosen == 1
    assert np.array_equal(again.timestep_mask("a", 0), candidate_masks(PromptSet().added(10, 10, 1))[1])


def test_read_only_folder_keeps_everything_in_memory_and_saves_elsewhere(tmp_path, truth, monkeypatch):
    """A folder that turns read-only (simulated: the test may run as root, which ignores modes)."""
    import core.io.event_log
    import core.prompting.session as session_module

    folder = tmp_path / "session"
    session = AnnotationSession.open(folder, "st1", clock=FakeClock())
    session.open_image("a")

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(session_module, "atomic_write_bytes", read_only)
    monkeypatch.setattr(core.io.event_log.EventLog, "append", read_only)
    session.edit("add", PromptSet().added(10, 10, 1))
    decode_and_record(session, "a", truth)
    assert session.write_error and "Read-only" in session.write_error
    assert len(session.records["a"].timesteps) == 1
    monkeypatch.undo()
    session.save_to(tmp_path / "elsewhere")
    assert session.write_error is None
    copy = AnnotationSession.load(tmp_path / "elsewhere")
    assert len(copy.records["a"].timesteps) == 1
    assert copy.timestep_mask("a", 0).any()
    assert len(read_events(folder / "events.jsonl")) == 2  # the old log stopped before the failure


def test_unwritable_log_is_reported_without_losing_events(tmp_path, truth, monkeypatch):
    session = AnnotationSession.open(tmp_path / "s", "st1", clock=FakeClock())
    session.open_image("a")

    def disk_full(event, wake_syncer=True):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session._log, "append", disk_full)
    session.edit("add", PromptSet().added(2, 2, 1))
    assert "No space left on device" in session.write_error
    assert session.events[-1]["event"] == "edit" and len(session.records["a"].prompts) == 1
    monkeypatch.undo()
    session.save_to(tmp_path / "t")
    assert len(AnnotationSession.load(tmp_path / "t").records["a"].prompts) == 1


def test_an_unchanged_prompt_set_is_not_a_new_timestep(tmp_path, truth):
    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    session.edit("add", PromptSet().added(10, 10, 1))
    assert decode_and_record(session, "a", truth) == 0
    assert decode_and_record(session, "a", truth) is None  # e.g. a late duplicate answer
    session.new_round()
    session.edit("add", PromptSet().added(10, 10, 1))
    assert decode_and_record(session, "a", truth) == 1  # same points, new round: a timestep


def test_a_missing_mask_file_is_named(tmp_path, truth):
    from core.prompting.session import MissingMaskError

    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    session.edit("add", PromptSet().added(10, 10, 1))
    decode_and_record(session, "a", truth)
    (tmp_path / session.records["a"].timesteps[0].mask_files[0]).unlink()
    with pytest.raises(MissingMaskError, match="0_0.png is missing"):
        session.timestep_mask("a", 0)


def test_one_writer_per_folder(tmp_path, truth):
    import subprocess
    import sys

    from core.io.folder_lock import FolderLockedError

    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    other_process = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); from core.prompting.session import "
         f"AnnotationSession; AnnotationSession.open({str(tmp_path)!r}, 'st2')"],
        capture_output=True, text=True, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert other_process.returncode != 0 and "FolderLockedError" in other_process.stderr
    assert f"process {__import__('os').getpid()}" in other_process.stderr
    reader = AnnotationSession.load(tmp_path)  # reading needs no lock
    assert reader.current == "a" and reader.annotator == "st1"
    with pytest.raises(RuntimeError, match="load"):
        reader.open_image("b")
    with pytest.raises(FolderLockedError):
        AnnotationSession.open(tmp_path, "st1")  # a second writer in this process too
    session.close()
    AnnotationSession.open(tmp_path, "st1").close()


def test_a_closed_session_records_nothing(tmp_path, truth):
    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    session.edit("add", PromptSet().added(10, 10, 1))
    session.close()
    assert decode_and_record(session, "a", truth) is None  # a late answer after closing
    with pytest.raises(RuntimeError, match="closed"):
        session.edit("add", PromptSet())


def test_a_repeat_is_recorded_again_when_its_masks_are_gone_or_the_model_changed(tmp_path, truth):
    session = AnnotationSession.open(tmp_path, "st1", clock=FakeClock())
    session.open_image("a")
    prompts = PromptSet().added(10, 10, 1)
    session.edit("add", prompts)
    decode_and_record(session, "a", truth)
    assert session.repeats_last_timestep("a", prompts, "tiny_sam:abc")
    assert not session.repeats_last_timestep("a", prompts, "vit_b-123")  # another model: a new prediction
    for name in session.records["a"].timesteps[0].mask_files:
        (tmp_path / name).unlink()
    assert decode_and_record(session, "a", truth) == 1  # the masks were lost: record them afresh
    assert session.timestep_mask("a", 1).any()


def test_ground_truth_verdicts_are_logged_and_replayed(tmp_path, truth):
    session = scripted_session(tmp_path / "s", truth)
    session.judge_ground_truth("shapes/0", True)
    session.judge_ground_truth("shapes/1", False)
    session.judge_ground_truth("shapes/1", None)  # withdrawn
    assert session.records["shapes/0"].gt_suboptimal is True and session.records["shapes/1"].gt_suboptimal is None
    session.close()
    replayed = AnnotationSession.load(tmp_path / "s")
    assert replayed.records["shapes/0"].gt_suboptimal is True and replayed.records["shapes/1"].gt_suboptimal is None
    verdicts = [e["gt_suboptimal"] for e in read_events(tmp_path / "s" / "events.jsonl") if e["event"] == "verdict"]
    assert verdicts == [True, False, None]


def test_a_read_session_counts_an_open_visit_up_to_its_last_event(tmp_path, truth):
    live = scripted_session(tmp_path / "s", truth)  # shapes/1 is still open, as after a crash
    last = live.events[-1]["t"]
    del live
    read = AnnotationSession.load(tmp_path / "s")
    assert read.now() == last  # not the wall clock: an old crash would count days
    record = read.records["shapes/1"]
    assert record.seconds_at(read.now()) == pytest.approx(last - record.opened_at)
