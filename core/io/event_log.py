"""The append-only event log: one JSON object per line, flushed to disk after every event.

A process killed mid-write leaves at most a torn last line; :func:`read_events` drops it
(the event it held had not taken effect: the session applies an event only after logging
it). A damaged line anywhere else is an :class:`EventLogError` naming the file and line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class EventLogError(Exception):
    """The event log cannot be read; the message names the file, the line and the fix."""


class EventLog:
    """Appends events to ``path`` (created with its folder if missing)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, event: dict) -> None:
        """Write ``event`` as one line and fsync it; raises OSError (disk full, read-only) unchanged."""
        line = json.dumps(event, separators=(",", ":"), allow_nan=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


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
