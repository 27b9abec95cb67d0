"""The annotation session: prompt sets, timesteps and rounds per image, rebuilt from its event log.

Every change is an event. :meth:`AnnotationSession._commit` appends the event to
``<folder>/events.jsonl`` (fsynced) and only then applies it to the in-memory state, with the
same ``_apply`` that :meth:`AnnotationSession.open` uses to replay the log. So after a crash
(even ``kill -9``) the replayed state equals the state before the crash, event for event.

Candidate masks of each timestep are PNG files under ``<folder>/masks/`` written atomically
before the timestep's event. If the folder stops being writable (disk full, read-only), the
session keeps every event and mask in memory, reports ``write_error`` and stops appending (a
log with a gap would resume wrongly); :meth:`save_to` writes everything to another folder and
continues there.

Event kinds: ``session`` (start/resume, annotator, model, device), ``open`` / ``close``
(image), ``edit`` (action add/remove/move/undo/redo/clear and the resulting prompt set),
``round`` (new round, empty prompt set), ``timestep`` (one SAM prediction shown: prompt set,
round, candidate predicted IoUs, IoUs and Dice against the ground truth, chosen candidate,
decode latency, model identity, device), ``choose`` (the annotator picked another candidate
for the latest timestep), ``verdict`` (the annotator's answer to PointPrompt's per-image
question "was the ground truth suboptimal, i.e. is SAM's result qualitatively better?": true,
false, or null for withdrawn), ``maps`` (a timestep's explanation and uncertainty maps were
computed for candidate ``chosen``: their scalars and the map PNGs' paths; a timestep may have
maps for several candidates), ``suggest`` (a suggested next click was shown: x, y, label,
source map, the timestep it came from), ``suggest_outcome`` (what became of the suggestion on
show: "followed" (the accepting edit carries ``suggested: true``) or "ignored", and ``by``: the
change that came instead). Every event carries ``seq`` and wall-clock ``t`` (Unix seconds).
Logs written before an event kind existed load unchanged.

Map PNGs (core.io.map_png: 8-bit, value × 255) live under ``<folder>/maps/``, written
atomically before their ``maps`` event, like the masks.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core.analysis.over_prompting import best_index
from core.io.atomic import atomic_write, atomic_write_bytes
from core.io.event_log import EventLog, EventLogError, drop_torn_tail, read_events
from core.io.folder_lock import FolderLock
from core.io.masks import encode_mask_png
from core.prompting.prompt_set import PromptSet

EVENTS_FILE = "events.jsonl"


def session_folder(output: str | Path, annotator: str) -> Path:
    """Where an annotator's session lives under an output folder: ``<output>/sessions/<annotator>``
    (annotators sharing an output folder keep separate logs)."""
    return Path(output) / "sessions" / annotator


class MissingMaskError(FileNotFoundError):
    """A timestep's mask file is gone (deleted, or lost in a power cut); the message names it."""
EDIT_ACTIONS = ("add", "remove", "move", "undo", "redo", "clear")
SUGGESTION_OUTCOMES = ("followed", "ignored")


@dataclass(frozen=True)
class MapRecord:
    """A timestep's maps for one candidate: scalars (name → float, core.gradients.sam_maps) and
    files (map name → PNG path relative to the session folder)."""

    scalars: dict[str, float]
    files: dict[str, str]


@dataclass
class SuggestionRecord:
    """A suggested next click that was shown: pixel (x, y), label 1 inclusion / 0 exclusion, the
    uncertainty map it came from, the timestep it was computed for, and its outcome ("followed",
    "ignored", or None while on show)."""

    timestep: int
    x: int
    y: int
    label: int
    source: str
    outcome: str | None = None


@dataclass
class Timestep:
    """One SAM prediction shown to the annotator.

    predicted_ious, ious, dices: one value per candidate mask (ious/dices None without truth);
    mask_files: the candidates' PNG paths relative to the session folder.
    """

    round: int
    prompts: PromptSet
    chosen: int
    predicted_ious: list[float]
    ious: list[float | None]
    dices: list[float | None]
    latency_s: float
    time: float
    mask_files: list[str]
    model: str = ""
    device: str = ""
    maps: dict[int, MapRecord] = field(default_factory=dict)  # candidate → its maps (replaced, never mutated)

    @property
    def scalars(self) -> dict[str, float] | None:
        """The map scalars of the chosen candidate, or None if its maps were not computed."""
        record = self.maps.get(self.chosen)
        return None if record is None else record.scalars

    @property
    def iou(self) -> float | None:
        return self.ious[self.chosen]

    @property
    def dice(self) -> float | None:
        return self.dices[self.chosen]

    @property
    def predicted_iou(self) -> float:
        return self.predicted_ious[self.chosen]


def best_timestep(timesteps: list[Timestep], round_: int | None = None) -> int | None:
    """Index of the highest-IoU timestep in ``timesteps`` (of one round, or all), the earliest on ties."""
    return best_index([t.iou for t in timesteps], [t.round for t in timesteps], round_)


@dataclass
class ImageRecord:
    """Everything done on one image: current round and prompt set, timesteps of all rounds."""

    image_id: str
    round: int = 0
    prompts: PromptSet = field(default_factory=PromptSet)
    timesteps: list[Timestep] = field(default_factory=list)
    seconds: float = 0.0
    opened_at: float | None = None
    gt_suboptimal: bool | None = None  # the annotator's verdict on the ground truth (None: not given)
    suggestions: list[SuggestionRecord] = field(default_factory=list)  # suggested clicks shown, in order

    @property
    def prompted(self) -> bool:
        return bool(self.timesteps)

    def best_timestep(self, round_: int | None = None) -> int | None:
        """Index of the highest-IoU timestep (of one round, or all), the earliest on ties."""
        return best_timestep(self.timesteps, round_)

    @property
    def best_iou(self) -> float | None:
        best = self.best_timestep()
        return None if best is None else self.timesteps[best].iou

    def seconds_at(self, now: float) -> float:
        """Time spent on the image up to ``now`` (Unix seconds), counting an open visit."""
        return self.seconds + (now - self.opened_at if self.opened_at is not None else 0.0)


def image_folder_key(image_id: str) -> str:
    """A file-system-safe folder name for an image id, unique per id."""
    digest = hashlib.sha1(image_id.encode("utf-8")).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', image_id)}-{digest}"


class AnnotationSession:
    """See the module docstring. Create with :meth:`open`."""

    def __init__(self, folder: Path, annotator: str, clock: Callable[[], float] = time.time) -> None:
        self.folder = Path(folder)
        self.annotator = annotator
        self.clock = clock
        self.records: dict[str, ImageRecord] = {}
        self.current: str | None = None
        self.events: list[dict] = []
        self.write_error: str | None = None
        self._log = EventLog(self.folder / EVENTS_FILE)
        self._unwritten_masks: dict[str, np.ndarray] = {}
        self._unwritten_maps: dict[str, bytes] = {}  # map PNGs kept in memory while the folder fails
        self._lock: FolderLock | None = None  # held by a writing session (open), not by load
        self.closed = False

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | Path, annotator: str, model: str = "", device: str = "",
             clock: Callable[[], float] = time.time, mode: str = "free") -> AnnotationSession:
        """Start a session in ``folder``, or resume the one whose log is there.

        On resume the events are replayed; an image left open by a crash is closed at the
        time of the last logged event, so time spent counts only logged activity. ``mode`` is
        logged: "free" (SAM runs after every change, rounds and closing are the annotator's
        choice) differs from the PointPrompt collection protocol, and the log says so.
        """
        session = cls(Path(folder), annotator, clock)
        session._lock = FolderLock(session.folder)
        session._lock.acquire()  # FolderLockedError if another window writes this session
        try:
            drop_torn_tail(session.folder / EVENTS_FILE)  # new events must not continue a torn line
            previous = read_events(session.folder / EVENTS_FILE)
            session._replay(previous)
        except (EventLogError, OSError):
            session._lock.release()  # a log that cannot be resumed leaves the folder free, and untouched
            raise
        session.events = list(previous)
        if session.current is not None:
            session._commit({"event": "close", "image": session.current, "t": previous[-1]["t"],
                             "reason": "resumed after the app stopped"})
        session._commit({"event": "session", "action": "resume" if previous else "start",
                         "annotator": annotator, "model": model, "device": device, "mode": mode})
        return session

    @classmethod
    def load(cls, folder: str | Path) -> AnnotationSession:
        """Read a session without taking it over (no lock, nothing written): for analysis and export.

        Raises RuntimeError on any change.
        """
        session = cls(Path(folder), annotator="")
        session.events = read_events(session.folder / EVENTS_FILE)
        session._replay(session.events)
        starts = [e for e in session.events if e["event"] == "session"]
        session.annotator = starts[-1].get("annotator", "") if starts else ""
        return session

    @property
    def resumed_image(self) -> str | None:
        """The image that was open when the previous run stopped (None for a new session)."""
        closes = [e for e in self.events if e["event"] == "close" and e.get("reason", "").startswith("resumed")]
        return closes[-1]["image"] if closes else None

    def record(self, image_id: str) -> ImageRecord:
        record = self.records.get(image_id)  # (called several times per click: no record built in vain)
        if record is None:
            record = self.records[image_id] = ImageRecord(image_id)
        return record

    # --- changes (each one event) --------------------------------------------------------
    def open_image(self, image_id: str) -> None:
        if self.current == image_id:
            return
        if self.current is not None:
            self.close_image()
        self._commit({"event": "open", "image": image_id})

    def close_image(self) -> None:
        if self.current is not None:
            self._commit({"event": "close", "image": self.current})

    def edit(self, action: str, prompts: PromptSet, defer_sync: bool = False, **detail) -> None:
        """Set the current image's prompt set to ``prompts`` after ``action`` (see EDIT_ACTIONS).

        defer_sync: the event is written at once, but its fsync waits for the next event or
        :meth:`sync_log_soon` (the app defers it while SAM decodes the edit; see
        core.io.event_log.EventLog.sync_soon)."""
        if action not in EDIT_ACTIONS:
            raise ValueError(f"unknown edit action {action!r}; expected one of {EDIT_ACTIONS}")
        self._commit({"event": "edit", "image": self._current_or_fail(), "action": action,
                      "prompts": prompts.to_json(), **detail}, prompts, wake_syncer=not defer_sync)

    def sync_log_soon(self) -> None:
        """Start the fsync of events logged with ``defer_sync``."""
        if self._lock is not None and not self.closed:
            self._log.sync_soon()

    def new_round(self, reason: str = "") -> None:
        """Start another attempt on the current image from an empty prompt set (``reason``: why, if not the annotator)."""
        self._commit({"event": "round", "image": self._current_or_fail(), **({"reason": reason} if reason else {})})

    def record_timestep(self, image_id: str, prompts: PromptSet, masks: np.ndarray,
                        predicted_ious: list[float], ious: list[float | None], dices: list[float | None],
                        chosen: int, latency_s: float, model: str = "", device: str = "",
                        mask_pngs: list[bytes] | None = None) -> int | None:
        """Record SAM's answer for ``prompts`` on ``image_id``; returns the timestep index.

        masks: (M, H, W) bool candidates; the other lists have M entries. mask_pngs: the same
        masks already encoded by core.io.masks.encode_mask_png (the app's worker thread does
        it), else they are encoded here. Returns None (and
        records nothing) when the answer is stale (the image's prompt set has changed since) or
        repeats the last timestep (same prompt set, round and model, its masks still there: no
        change, so no new timestep; see :meth:`repeats_last_timestep`).
        """
        record = self.record(image_id)
        if self.closed or prompts != record.prompts or not prompts:
            return None
        if self.repeats_last_timestep(image_id, prompts, model):
            return None
        index = len(record.timesteps)
        folder = f"masks/{image_folder_key(image_id)}"
        files = [f"{folder}/{index}_{k}.png" for k in range(len(masks))]
        pngs = mask_pngs if mask_pngs is not None else [None] * len(masks)
        for name, mask, png in zip(files, masks, pngs):
            self._write_mask(name, mask, png)
        self._commit({"event": "timestep", "image": image_id, "index": index, "round": record.round,
                      "prompts": prompts.to_json(), "chosen": int(chosen),
                      "predicted_ious": [float(v) for v in predicted_ious],
                      "ious": [None if v is None else float(v) for v in ious],
                      "dices": [None if v is None else float(v) for v in dices],
                      "latency_ms": round(1000 * latency_s, 3), "masks": files, "model": model, "device": device})
        return index

    def repeats_last_timestep(self, image_id: str, prompts: PromptSet, model: str) -> bool:
        """True when the image's last timestep already holds SAM's answer for ``prompts`` in the
        current round from the same model, with its masks available (a late duplicate answer)."""
        record = self.record(image_id)
        last = record.timesteps[-1] if record.timesteps else None
        return (last is not None and last.prompts == prompts and last.round == record.round and last.model == model
                and all(name in self._unwritten_masks or (self.folder / name).is_file() for name in last.mask_files))

    def choose(self, image_id: str, index: int, chosen: int) -> None:
        """The annotator picked candidate ``chosen`` for timestep ``index`` of ``image_id``."""
        timestep = self.record(image_id).timesteps[index]
        self._commit({"event": "choose", "image": image_id, "index": index, "chosen": int(chosen),
                      "iou": timestep.ious[chosen], "predicted_iou": timestep.predicted_ious[chosen]})

    def record_maps(self, image_id: str, index: int, chosen: int, scalars: dict[str, float],
                    pngs: dict[str, bytes], seconds: float = 0.0) -> bool:
        """Record timestep ``index``'s maps for candidate ``chosen``: the PNGs (map name → bytes of
        core.io.map_png.encode_map_png) are written under ``maps/`` first, then one ``maps`` event
        with the scalars. Returns False (and records nothing) when that timestep does not exist
        or already has maps for that candidate."""
        record = self.records.get(image_id)
        if self.closed or record is None or not 0 <= index < len(record.timesteps) \
                or chosen in record.timesteps[index].maps:
            return False
        folder = f"maps/{image_folder_key(image_id)}"
        files = {name: f"{folder}/{index}_{chosen}_{name}.png" for name in pngs}
        for name, png in pngs.items():
            self._write_map(files[name], png)
        self._commit({"event": "maps", "image": image_id, "index": int(index), "chosen": int(chosen),
                      "scalars": {k: float(v) for k, v in scalars.items()}, "files": files,
                      "latency_ms": round(1000 * seconds, 3)})
        return True

    def log_suggestion(self, image_id: str, index: int, x: int, y: int, label: int, source: str,
                       mass: float = 0.0) -> None:
        """A suggested next click at pixel (x, y) (label 1 inclusion / 0 exclusion, from map
        ``source``, for timestep ``index``) is shown to the annotator."""
        self._commit({"event": "suggest", "image": image_id, "index": int(index), "x": int(x), "y": int(y),
                      "label": int(label), "source": source, "mass": float(mass)})

    def suggestion_outcome(self, image_id: str, outcome: str, by: str) -> None:
        """What became of the suggestion on show for ``image_id``: "followed" or "ignored";
        ``by``: the change that followed (an edit action, "round", "choose", "open", …)."""
        if outcome not in SUGGESTION_OUTCOMES:
            raise ValueError(f"unknown suggestion outcome {outcome!r}; expected one of {SUGGESTION_OUTCOMES}")
        self._commit({"event": "suggest_outcome", "image": image_id, "outcome": outcome, "by": by})

    def map_png(self, name: str) -> bytes:
        """The bytes of a map PNG named in a ``maps`` event (relative to the session folder).
        Raises MissingMaskError naming the file when it is gone."""
        kept = self._unwritten_maps.get(name)
        if kept is not None:
            return kept
        try:
            return (self.folder / name).read_bytes()
        except OSError as error:
            raise MissingMaskError(f"{self.folder / name} is missing or unreadable ({error}): a map PNG. The event "
                                   "log still holds its scalars; export without maps, or open the image in the "
                                   "app to compute its maps again.") from error

    def now(self) -> float:
        """The time an open visit counts up to: the clock while this process writes the session;
        for one read with :meth:`load` or closed, its last event's time (a crash's open visit
        ends there rather than growing until whenever it is read)."""
        if self._lock is not None and not self.closed:
            return self.clock()
        return self.events[-1]["t"] if self.events else 0.0

    def judge_ground_truth(self, image_id: str, suboptimal: bool | None) -> None:
        """Record the annotator's answer to "was the ground truth suboptimal, i.e. is SAM's result
        qualitatively better?" for ``image_id`` (None withdraws an answer)."""
        self._commit({"event": "verdict", "image": image_id,
                      "gt_suboptimal": None if suboptimal is None else bool(suboptimal)})

    # --- reading -------------------------------------------------------------------------
    def timestep_mask(self, image_id: str, index: int, candidate: int | None = None) -> np.ndarray:
        """(H, W) bool mask of a timestep's chosen (or given) candidate."""
        timestep = self.records[image_id].timesteps[index]
        name = timestep.mask_files[timestep.chosen if candidate is None else candidate]
        kept = self._unwritten_masks.get(name)  # one lookup: save_to may empty it from another thread
        if kept is not None:
            return kept
        mask = cv2.imread(str(self.folder / name), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise MissingMaskError(f"{self.folder / name} is missing or unreadable: the mask of timestep {index} of "
                                   f"{image_id}. The event log still holds its points and scores; the app "
                                   "decodes the image's current points again when it is opened.")
        return mask > 0

    # --- saving elsewhere ----------------------------------------------------------------
    def save_to(self, folder: str | Path) -> None:
        """Write the whole session (log and masks) to ``folder`` and continue there."""
        target = Path(folder)
        if self._lock is None:
            raise RuntimeError("a session read with load() cannot be saved elsewhere; open it instead")
        if target.resolve() == self.folder.resolve():
            raise ValueError(f"{target} is this session's own folder: choose another one")
        new_lock = FolderLock(target)
        new_lock.acquire()
        for record in self.records.values():
            for timestep in record.timesteps:
                for name in timestep.mask_files:
                    if name in self._unwritten_masks:
                        atomic_write_bytes(target / name, encode_mask_png(self._unwritten_masks[name]))
                    elif (self.folder / name).exists():
                        (target / name).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(self.folder / name, target / name)
                for maps in timestep.maps.values():
                    for name in maps.files.values():
                        if name in self._unwritten_maps:
                            atomic_write_bytes(target / name, self._unwritten_maps[name])
                        elif (self.folder / name).exists():
                            (target / name).parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(self.folder / name, target / name)
        lines = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in self.events)
        atomic_write(target / EVENTS_FILE, lambda handle: handle.write(lines.encode("utf-8")))
        try:
            self._log.close()
        except OSError:
            pass  # the old folder is the one failing; everything is now in ``target``
        self._lock.release()
        self.folder, self._log, self._lock = target, EventLog(target / EVENTS_FILE), new_lock
        self._unwritten_masks.clear()
        self._unwritten_maps.clear()
        self.write_error = None

    def close(self) -> None:
        """fsync and close the log and let go of the folder (another window may open it then).
        A closed session records nothing more."""
        try:
            self._log.close()
        except OSError as error:
            self.write_error = f"Cannot write to {self._log.path}: {error}"
        if self._lock is not None:
            self._lock.release()
        self.closed = True

    # --- internals -----------------------------------------------------------------------
    def _current_or_fail(self) -> str:
        if self.current is None:
            raise RuntimeError("no image is open")
        return self.current

    def _write_mask(self, name: str, mask: np.ndarray, png: bytes | None = None) -> None:
        if self.write_error is None:
            try:
                # not fsynced (three files per click); the fsynced log line after them is the commit
                atomic_write_bytes(self.folder / name, encode_mask_png(mask) if png is None else png, durable=False)
                return
            except OSError as error:
                self.write_error = f"Cannot write to {self.folder}: {error}"
        self._unwritten_masks[name] = mask.astype(bool)

    def _write_map(self, name: str, png: bytes) -> None:
        if self.write_error is None:
            try:
                atomic_write_bytes(self.folder / name, png, durable=False)  # committed by the fsynced log line
                return
            except OSError as error:
                self.write_error = f"Cannot write to {self.folder}: {error}"
        self._unwritten_maps[name] = png

    def _commit(self, event: dict, prompts: PromptSet | None = None, wake_syncer: bool = True) -> None:
        """Log ``event`` and apply it; ``prompts``: its prompt set, if the caller has it (not
        parsed back from the event's JSON); ``wake_syncer``: see EventLog.append."""
        if self._lock is None or self.closed:
            raise RuntimeError(f"{self.folder}: this session is closed or was read with load(); open() it to "
                               "make changes")
        event = {"seq": len(self.events), "t": self.clock(), **event}
        if self.write_error is None:
            try:
                self._log.append(event, wake_syncer)
            except OSError as error:
                self.write_error = (f"Cannot write to {self._log.path}: {error}. Nothing is lost yet: "
                                    "use File → Save session to… to continue in another folder.")
        self.events.append(event)
        self._apply(event, prompts)

    def _replay(self, events: list[dict]) -> None:
        """Fold logged events into the state; a malformed one raises EventLogError naming it."""
        for number, event in enumerate(events, start=1):
            try:
                self._apply(event)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
                raise EventLogError(
                    f"{self.folder / EVENTS_FILE}: event {number} (seq {event.get('seq')}, {event.get('event')!r}) "
                    f"is malformed ({type(error).__name__}: {error}); the events before it are intact. Was the file "
                    "edited by hand? Restore it from a backup or move it aside to start a new session.") from error

    def _apply(self, event: dict, prompts: PromptSet | None = None) -> None:
        kind = event["event"]
        if kind == "session":
            return
        record = self.record(event["image"])
        if kind == "open":
            record.opened_at = event["t"]
            self.current = event["image"]
        elif kind == "close":
            if record.opened_at is not None:
                record.seconds += max(0.0, event["t"] - record.opened_at)
            record.opened_at = None
            if self.current == event["image"]:
                self.current = None
        elif kind == "edit":
            record.prompts = PromptSet.from_json(event["prompts"]) if prompts is None else prompts
        elif kind == "round":
            record.round += 1
            record.prompts = PromptSet()
        elif kind == "timestep":
            record.timesteps.append(Timestep(
                round=event["round"], prompts=PromptSet.from_json(event["prompts"]), chosen=event["chosen"],
                predicted_ious=event["predicted_ious"], ious=event["ious"], dices=event["dices"],
                latency_s=event["latency_ms"] / 1000, time=event["t"], mask_files=event["masks"],
                model=event.get("model", ""), device=event.get("device", "")))
        elif kind == "choose":
            record.timesteps[event["index"]].chosen = event["chosen"]
        elif kind == "verdict":
            record.gt_suboptimal = event["gt_suboptimal"]
        elif kind == "maps":
            if event["index"] < 0:
                raise IndexError(f"timestep index {event['index']}")
            timestep = record.timesteps[event["index"]]
            maps = MapRecord({str(k): float(v) for k, v in event["scalars"].items()},
                             {str(k): str(v) for k, v in event["files"].items()})
            timestep.maps = {**timestep.maps, int(event["chosen"]): maps}  # a new dict: export snapshots keep theirs
        elif kind == "suggest":
            record.suggestions.append(SuggestionRecord(int(event["index"]), int(event["x"]), int(event["y"]),
                                                       int(event["label"]), str(event["source"])))
        elif kind == "suggest_outcome":
            if event["outcome"] not in SUGGESTION_OUTCOMES:
                raise ValueError(f"unknown suggestion outcome {event['outcome']!r}")
            record.suggestions[-1].outcome = event["outcome"]
        else:
            raise ValueError(f"unknown event kind {kind!r} (seq {event.get('seq')})")
