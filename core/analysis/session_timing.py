"""Time per timestep from our own event log, matched to exported PointPrompt results.

Our export (core.prompting.export) writes every timestep of an image in order, so timestep
``t`` of ``<category>/<annotator>/…/<i>`` is the image's ``t``-th ``timestep`` event in the
session's log (``events.jsonl``; an export folder holds a copy, ``session-events.jsonl``).
The published data has no log: its time columns stay empty.

``elapsed_s`` of a timestep counts the *active* seconds (the image open in the app) from the
start of its round to the moment SAM's answer was recorded: round 0 starts when the image is
first opened, a later round at its ``round`` event. Time with the image closed (the annotator
on another image, or away) does not count; a visit left open by a crash ends at the log's last
event, as the session itself counts it. Time to best = ``elapsed_s`` of the round's best timestep.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.io.event_log import EventLogError, read_events
from core.io.pointprompt_results import ImageResults

EXPORT_LOG_NAME = "session-events.jsonl"  # the copy of the log beside an export (docs/example-export)
SESSION_LOG_NAME = "events.jsonl"  # the app's <output>/sessions/<annotator>/events.jsonl


@dataclass
class LoggedTimestep:
    """One ``timestep`` event: session round, Unix time, (n, 2) inclusion and (m, 2) exclusion
    (x, y), and active seconds since its round began."""

    round: int
    time: float
    inclusion: np.ndarray
    exclusion: np.ndarray
    elapsed_s: float = float("nan")


@dataclass
class LoggedImage:
    """An image's visits (open, close) in Unix seconds, round starts and timesteps, from one log."""

    image_id: str
    visits: list[list[float]] = field(default_factory=list)
    round_starts: list[float] = field(default_factory=list)
    timesteps: list[LoggedTimestep] = field(default_factory=list)


@dataclass
class SessionLog:
    """One session log: its path, the annotator of its ``session`` events, images by id."""

    path: Path
    annotator: str
    images: dict[str, LoggedImage]


def log_path(source: str | Path) -> Path:
    """The log file of ``source``: the file itself, or ``events.jsonl`` / ``session-events.jsonl``
    in a folder."""
    source = Path(source)
    if source.is_dir():
        for name in (SESSION_LOG_NAME, EXPORT_LOG_NAME):
            if (source / name).is_file():
                return source / name
        return source / SESSION_LOG_NAME
    return source


def active_seconds(visits: list[list[float]], start: float, end: float) -> float:
    """Seconds of [start, end] that fall inside the visits ([open, close] pairs, Unix seconds)."""
    return float(sum(max(0.0, min(end, close) - max(start, opened)) for opened, close in visits))


def _points(prompts: list, label: int) -> np.ndarray:
    return np.array([(x, y) for x, y, kind in prompts if kind == label], dtype=np.float64).reshape(-1, 2)


def _fold(events: list[dict]) -> tuple[str, dict[str, LoggedImage]]:
    annotator, images = "", {}
    for event in events:
        kind = event["event"]
        if kind == "session":
            annotator = str(event.get("annotator", annotator))
            continue
        if kind not in ("open", "close", "round", "timestep"):
            continue
        image = images.setdefault(event["image"], LoggedImage(event["image"]))
        t = float(event["t"])
        if kind == "open":
            image.visits.append([t, float("nan")])
            if not image.round_starts:
                image.round_starts.append(t)
        elif kind == "close" and image.visits and np.isnan(image.visits[-1][1]):
            image.visits[-1][1] = t
        elif kind == "round":
            image.round_starts.append(t)
        elif kind == "timestep":
            image.timesteps.append(LoggedTimestep(int(event["round"]), t, _points(event["prompts"], 1),
                                                  _points(event["prompts"], 0)))
    last = float(events[-1]["t"]) if events else 0.0
    for image in images.values():
        for visit in image.visits:
            if np.isnan(visit[1]):
                visit[1] = last
        for step in image.timesteps:
            starts = image.round_starts
            start = starts[min(step.round, len(starts) - 1)] if starts else step.time
            step.elapsed_s = active_seconds(image.visits, start, step.time)
    return annotator, images


def read_session_log(source: str | Path) -> SessionLog:
    """Read a session's event log (a file, or a folder holding one; see :func:`log_path`).

    Raises EventLogError naming the file when it is missing, not a log, or an event lacks what
    it needs; OSError when it cannot be read."""
    path = log_path(source)
    if not path.is_file():
        raise EventLogError(f"{path} does not exist: give a session folder (<output>/sessions/<annotator>) or "
                            f"its events.jsonl, or an export's {EXPORT_LOG_NAME}")
    events = read_events(path)
    try:
        annotator, images = _fold(events)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise EventLogError(f"{path}: an event is malformed ({type(error).__name__}: {error}); is this the app's "
                            "event log?") from error
    return SessionLog(path, annotator, images)


def match_timing(results: ImageResults, logged: LoggedImage) -> list[float] | str:
    """Per timestep of ``results``, ``elapsed_s`` from the log; or, when the log does not
    describe these results (another count of timesteps, other rounds or points: the session
    went on after the export, or belongs to another study), the reason as a string."""
    steps = logged.timesteps
    if len(steps) != len(results):
        return f"the log has {len(steps)} timesteps for {logged.image_id}, the results {len(results)}"
    order = {r: i for i, r in enumerate(sorted({s.round for s in steps}))}  # the export's round numbering
    for t, step in enumerate(steps):
        if order[step.round] != results.rounds[t]:
            return (f"timestep {t} of {logged.image_id} is in round {order[step.round]} in the log, "
                    f"{results.rounds[t]} in the results")
        if not (np.array_equal(step.inclusion, results.green[t]) and np.array_equal(step.exclusion, results.red[t])):
            return f"timestep {t} of {logged.image_id} has other points in the log than in the results"
    return [s.elapsed_s for s in steps]


def exported_image_ids(results_root: str | Path, annotator: str) -> dict[tuple[str, int], str]:
    """(category, image index) → image id, from the export's ``<annotator>_images.csv`` or
    ``<annotator>_timesteps.csv`` in the results root ({} when neither is there).

    Raises OSError or ValueError (naming the file) when one is there but cannot be read."""
    for name in (f"{annotator}_images.csv", f"{annotator}_timesteps.csv"):
        path = Path(results_root) / name
        if not path.is_file():
            continue
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                return {(row["category"], int(row["image_index"])): row["image_id"] for row in csv.DictReader(handle)}
        except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not our export's table ({type(error).__name__}: {error})") from error
    return {}


def image_id_for(category: str, index: int, known: dict[tuple[str, int], str], log: SessionLog) -> str | None:
    """The log's image id of results image ``index`` in ``category``: from the export's table,
    else ``<category>/<index>`` (the id of a PointPrompt dataset image), if the log has it."""
    image_id = known.get((category, index), f"{category}/{index}")
    return image_id if image_id in log.images else None
