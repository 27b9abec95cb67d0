"""The append-only event log survives a torn last line and names damage elsewhere."""

import pytest

from core.io.event_log import EventLog, EventLogError, read_events


def test_append_and_read(tmp_path):
    log = EventLog(tmp_path / "sub" / "events.jsonl")
    log.append({"seq": 0, "event": "a"})
    log.append({"seq": 1, "event": "b", "x": None})
    assert read_events(log.path) == [{"seq": 0, "event": "a"}, {"seq": 1, "event": "b", "x": None}]
    assert read_events(tmp_path / "missing.jsonl") == []


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": 0}\n{"seq": 1}\n{"seq": 2, "eve')
    assert [e["seq"] for e in read_events(path)] == [0, 1]


def test_damaged_middle_line_names_file_and_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": 0}\nnot json\n{"seq": 2}\n')
    with pytest.raises(EventLogError, match=r"events.jsonl, line 2"):
        read_events(path)


def test_close_syncs_and_a_later_append_reopens(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    log.append({"seq": 0})
    log.sync()
    log.close()
    log.append({"seq": 1})
    log.close()
    assert [e["seq"] for e in read_events(log.path)] == [0, 1]


def test_a_torn_tail_is_cut_so_new_events_start_on_their_own_line(tmp_path):
    from core.prompting.session import AnnotationSession

    path = tmp_path / "events.jsonl"
    AnnotationSession.open(tmp_path, "st1").open_image("a")
    with open(path, "ab") as handle:
        handle.write(b'{"seq": 2, "t": 5, "event": "ed')  # killed mid-write
    resumed = AnnotationSession.open(tmp_path, "st1")
    resumed.close()
    again = AnnotationSession.open(tmp_path, "st1")  # must not raise EventLogError
    assert [e["event"] for e in again.events] == ["session", "open", "close", "session", "session"]


def test_a_complete_last_event_without_newline_is_kept(tmp_path):
    from core.io.event_log import drop_torn_tail

    path = tmp_path / "events.jsonl"
    path.write_text('{"seq": 0}\n{"seq": 1}')
    assert [e["seq"] for e in read_events(path)] == [0, 1]
    assert drop_torn_tail(path)
    EventLog(path).append({"seq": 2})
    assert [e["seq"] for e in read_events(path)] == [0, 1, 2]


def test_a_background_fsync_failure_is_raised_by_the_next_append(tmp_path, monkeypatch):
    import os
    import time

    import pytest as _pytest

    log = EventLog(tmp_path / "events.jsonl")
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    log.append({"seq": 0})
    deadline = time.monotonic() + 5
    while log._sync_error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with _pytest.raises(OSError, match="Input/output"):
        log.append({"seq": 1})
    monkeypatch.setattr(os, "fsync", real_fsync)
    log.close()


def counted_fsyncs(monkeypatch, after_s: float) -> list[int]:
    """Count os.fsync calls (each one's descriptor is appended to the list returned), with the
    log's background fsync FSYNC_AFTER_S after the first unsynced event."""
    import os

    import core.io.event_log as event_log

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    monkeypatch.setattr(event_log, "FSYNC_AFTER_S", after_s)
    return synced


def wait_until(condition, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_burst_of_events_takes_one_fsync_after_it_and_close_does_not_wait_for_it(tmp_path, monkeypatch):
    import time

    import core.io.event_log as event_log

    synced = counted_fsyncs(monkeypatch, 0.2)
    log = EventLog(tmp_path / "events.jsonl")
    log.append({"seq": 0, "event": "edit"})
    log.append({"seq": 1, "event": "timestep"})  # a click's answer, moments later
    assert synced == []  # not while SAM would be decoding
    wait_until(lambda: synced)
    time.sleep(0.1)
    assert len(synced) == 1  # both events in one fsync
    monkeypatch.setattr(event_log, "FSYNC_AFTER_S", 3600.0)
    log.append({"seq": 2})
    log.close()  # fsyncs at once; the background wait is cut short (else this hangs for an hour)
    assert len(synced) == 2 and [e["seq"] for e in read_events(log.path)] == [0, 1, 2]


def test_an_event_appended_without_waking_the_syncer_is_fsynced_after_sync_soon(tmp_path, monkeypatch):
    import time

    synced = counted_fsyncs(monkeypatch, 0.05)
    log = EventLog(tmp_path / "events.jsonl")
    log.append({"seq": 0, "event": "edit"}, wake_syncer=False)  # a click's edit, while SAM decodes it
    assert [e["seq"] for e in read_events(log.path)] == [0]  # written at once all the same
    time.sleep(0.4)
    assert synced == []  # the fsync thread slept through it
    log.sync_soon()
    wait_until(lambda: synced)
    assert len(synced) == 1
    log.sync_soon()  # nothing new: no other fsync
    log.append({"seq": 1, "event": "edit"}, wake_syncer=False)
    log.append({"seq": 2, "event": "timestep"})  # the answer's event wakes it for both
    wait_until(lambda: len(synced) >= 2)
    time.sleep(0.2)
    assert len(synced) == 2
    log.close()
