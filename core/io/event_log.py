"""The append-only event log: one JSON object per line.

Each event is written and flushed to the operating system before :meth:`EventLog.append`
returns, so it survives the process being killed (even ``kill -9``). A background thread
then fsyncs the file (coalescing bursts), so a power cut loses at most the last moments
without the UI thread waiting for the disk on every click; :meth:`EventLog.close` and
:meth:`EventLog.sync` fsync at once.

A process killed mid-write leaves at most a torn last line; :func:`read_events` drops it
(the event it held had not taken effect: the session applies an event only after logging
it). A damaged line anywhere else is an :class:`EventLogError` naming the file and line.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class EventLogError(Exception):
    """The event log cannot be read; the message names the file, the line and the fix."""


class EventLog:
    """Appends events to ``path`` (created with its folder on the first event)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._handle = None
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._syncer: threading.Thread | None = None
        self._closed = False

    def append(self, event: dict) -> None:
        """Write ``event`` as one line and flush it; raises OSError (disk full, read-only) unchanged."""
        line = json.dumps(event, separators=(",", ":"), allow_nan=True) + "\n"
        with self._lock:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "a", encoding="utf-8")
                self._closed = False
            self._handle.write(line)
            self._handle.flush()
        self._dirty.set()
        if self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="event-log-fsync", daemon=True)
            self._syncer.start()

    def sync(self) -> None:
        """fsync now (the background thread does this shortly after every append)."""
        with self._lock:
            if self._handle is not None:
                os.fsync(self._handle.fileno())

    def close(self) -> None:
        """fsync and close the file; a later append reopens it."""
        with self._lock:
            if self._handle is not None:
                os.fsync(self._handle.fileno())
                self._handle.close()
                self._handle = None
            self._closed = True
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None

    def _sync_loop(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            with self._lock:  # only to read the handle: the fsync itself runs unlocked
                if self._closed:
                    return
                descriptor = os.dup(self._handle.fileno()) if self._handle is not None else None
            if descriptor is None:
                continue
            try:
                os.fsync(descriptor)
            except OSError:
                pass  # a later append or close reports a failing disk to the caller
            finally:
                os.close(descriptor)


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
            events.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: torn by a crash mid-write
                break
            raise EventLogError(
                f"{path}, line {number}: not a JSON event ({error.msg}). The lines before it are "
                "intact; move the file aside to start a new session, or delete this line to resume.") from None
    return events
