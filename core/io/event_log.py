"""The append-only event log: one JSON object per line.

Each event is written to the operating system (``os.write``, no user-space buffer) before
:meth:`EventLog.append` returns, so it survives the process being killed (even ``kill -9``). A background thread
then fsyncs the file, FSYNC_AFTER_S after the first unsynced event (coalescing bursts: a
click's edit and its timestep, ~20 ms apart, take one fsync), so a power cut loses at most the
last moments without the UI thread waiting for the disk on every click; :meth:`EventLog.close`
and :meth:`EventLog.sync` fsync at once.

A process killed mid-write leaves at most a torn last line; :func:`read_events` drops it
(the event it held had not taken effect: the session applies an event only after logging
it). A damaged line anywhere else is an :class:`EventLogError` naming the file and line.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


# The wait lets the fsync fall after the click whose edit started it: right after the edit it ran
# while SAM decoded, and on this project's VM the journal commit it starts sometimes slowed the
# decode by 1–2 ms (per-click ratio 0.06–0.09 lower in four of eight alternating runs of
# bench/bench_annotation_app.py, 0.02–0.03 higher in the other four, median 0.02 lower).
FSYNC_AFTER_S = 0.1
# one encoder for every line (json.dumps with these options builds a new one per call)
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode


class EventLogError(Exception):
    """The event log cannot be read; the message names the file, the line and the fix."""


class EventLog:
    """Appends events to ``path`` (created with its folder on the first event)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._closing = threading.Event()  # cuts the syncer's FSYNC_AFTER_S wait short
        self._syncer: threading.Thread | None = None
        self._closed = False
        self._sync_error: OSError | None = None  # found by the background fsync, raised on the next call
        self._unsynced = False  # appended with wake_syncer=False since the background thread last woke

    def append(self, event: dict, wake_syncer: bool = True) -> None:
        """Write ``event`` as one line and flush it; raises OSError (disk full, read-only) unchanged.

        wake_syncer=False leaves the background thread asleep until :meth:`sync_soon` or the next
        append that wakes it: the app appends a click's edit so while SAM decodes it, as a thread
        waking then took a core from the decoder's threads (see :meth:`sync_soon`)."""
        data = (_encode(event) + "\n").encode("utf-8")
        with self._lock:
            if self._sync_error is not None:  # the disk refused an earlier fsync (Linux reports it once)
                error, self._sync_error = self._sync_error, None
                raise error
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
                self._closed = False
            written = 0
            while written < len(data):  # a short write (disk full) raises on the next call
                written += os.write(self._fd, data[written:])
        if wake_syncer:
            self._unsynced = False
            self._dirty.set()
        else:
            self._unsynced = True
        if self._syncer is None:
            self._closing.clear()
            self._syncer = threading.Thread(target=self._sync_loop, name="event-log-fsync", daemon=True)
            self._syncer.start()

    def sync_soon(self) -> None:
        """Wake the background thread for what was appended with ``wake_syncer=False`` (it fsyncs
        FSYNC_AFTER_S later). A thread woken while torch decodes on both cores of a small CPU
        preempts one of its two OpenMP threads, and each parallel operation then waits for it: the
        tiny SAM's decode took 0.2–1.2 ms longer when the edit's append woke this thread
        (medians, alternating clicks, five runs of bench/bench_annotation_app.py)."""
        if self._unsynced:
            self._unsynced = False
            self._dirty.set()

    def sync(self) -> None:
        """fsync now (the background thread does this shortly after every append)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close the file (the descriptor is closed even if the fsync fails, and the
        error is raised after); a later append reopens it."""
        with self._lock:
            error, self._sync_error = self._sync_error, None
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as failure:
                    error = failure
                os.close(self._fd)
                self._fd = None
            self._closed = True
        self._closing.set()
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None
        if error is not None:
            raise error

    def _sync_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._closing.wait(FSYNC_AFTER_S)
            self._dirty.clear()
            with self._lock:  # only to read the handle: the fsync itself runs unlocked
                if self._closed:
                    return
                descriptor = os.dup(self._fd) if self._fd is not None else None
            if descriptor is None:
                continue
            try:
                os.fsync(descriptor)
            except OSError as failure:
                with self._lock:
                    self._sync_error = failure  # the next append or close raises it
            finally:
                os.close(descriptor)


def drop_torn_tail(path: str | os.PathLike) -> bool:
    """Mend a last line left without its newline by a crash mid-write, so that new events start
    on a line of their own: a torn event is cut (it never took effect), a complete one only gets
    its newline (:func:`read_events` counts it). Returns True if the file was changed."""
    path = Path(path)
    if not path.exists():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    tail = data[data.rfind(b"\n") + 1:]
    try:
        json.loads(tail)
        complete = True  # only the newline was lost: keep the event, as read_events does
    except json.JSONDecodeError:
        complete = False
    with open(path, "r+b") as handle:
        if complete:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\n")
        else:
            handle.truncate(len(data) - len(tail))
        handle.flush()
        os.fsync(handle.fileno())
    return True


def read_events(path: str | os.PathLike) -> list[dict]:
    """All complete events in ``path``, in order; [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            if number == len(lines):  # no newline after it: torn by a crash mid-write
                break
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8 text"
            raise EventLogError(
                f"{path}, line {number}: not a JSON event ({reason}). The lines before it are "
                "intact; move the file aside to start a new session, or delete this line to resume.") from None
        if not isinstance(event, dict):
            raise EventLogError(f"{path}, line {number}: a JSON {type(event).__name__}, not an event (a JSON object); "
                                "is this the app's events.jsonl?")
        events.append(event)
    return events
