"""Export a session: PointPrompt "Prompting results" per category, and a tidy CSV of all timesteps.

The results go to ``<root>/<category>/<annotator>/…`` (core.io.pointprompt_results), one
folder per category of the study, with rounds numbered from 0 over the rounds that have
timesteps (PointPrompt has rounds 0 and 1; a third attempt is written as round 2). Two tidy
CSVs, ready for pandas or R: ``<root>/<annotator>_timesteps.csv``, one row per timestep
(rounds, point counts, IoU, Dice, SAM's predicted IoU, chosen candidate, decode latency,
wall-clock time, model, device), and ``<root>/<annotator>_images.csv``, one row per image the
annotator opened (timesteps, rounds, best IoU and when, time spent, and the answer to
PointPrompt's "was the ground truth suboptimal?", which the published layout has no file for).

With ``maps=True`` the export adds each timestep's explanation and uncertainty maps beside the
PointPrompt layout, never inside a category folder: ``<root>/<annotator>_maps/<category>/<i>_<t>_<map>.png``
(8-bit, value × 255, as the session saved them; ``t`` numbers the image's timesteps as the
layout's ``masks/<i>_<t>_mask.png`` do) and a long-format table
``<root>/<annotator>_map_scalars.csv`` (one row per timestep and scalar). A timestep's maps are
those of its chosen candidate, or, if they were never computed for it, the last ones computed
(the ``chosen`` column says which candidate they explain); timesteps without maps are left out.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.io.atomic import atomic_write, atomic_write_bytes
from core.io.pointprompt_results import ResultStep, write_image_results
from core.prompting.prompt_set import EXCLUSION, INCLUSION
from core.prompting.session import AnnotationSession, MapRecord, Timestep, best_timestep
from core.prompting.study import StudyImage

IMAGE_CSV_COLUMNS = ("annotator", "category", "image_index", "image_id", "timesteps", "rounds", "best_iou",
                     "best_timestep", "seconds", "gt_suboptimal")
CSV_COLUMNS = ("annotator", "category", "image_index", "image_id", "timestep", "round", "n_inclusion",
               "n_exclusion", "iou", "dice", "predicted_iou", "chosen_output", "latency_ms", "unix_time",
               "model", "device")
MAP_SCALAR_COLUMNS = ("annotator", "category", "image_index", "image_id", "timestep", "chosen", "scalar", "value")


@dataclass
class ExportSummary:
    """What an export wrote: annotator folders, the two CSVs, and images prompted but not in the study."""

    folders: list[Path]
    csv_path: Path
    timesteps: int
    skipped: list[str]
    images_csv_path: Path | None = None
    maps_folder: Path | None = None  # <root>/<annotator>_maps, with maps=True
    map_scalars_csv_path: Path | None = None
    map_files: int = 0


class ExportCancelled(Exception):
    """The export was cancelled after ``done`` of ``total`` images; no CSV was written."""

    def __init__(self, done: int, total: int, root: Path) -> None:
        super().__init__(f"Export cancelled after {done} of {total} images: {root} holds a partial export "
                         "(no CSV). Export again to complete it.")
        self.done, self.total = done, total


def snapshot_timesteps(session: AnnotationSession, images: list[StudyImage]) -> dict[str, list]:
    """Image id → copies of its timesteps, for every image of ``images`` the session has a record
    of: what an export writes, fixed while the session goes on (new timesteps, another chosen
    candidate)."""
    records = dict(session.records)
    return {image.image_id: [copy.copy(step) for step in list(records[image.image_id].timesteps)]
            for image in images if image.image_id in records}


def _rows(session: AnnotationSession, images: list[StudyImage], snapshot: dict[str, list]):
    for image in images:
        for t, step in enumerate(snapshot.get(image.image_id, [])):
            included, excluded = step.prompts.counts
            yield dict(annotator=session.annotator, category=image.category, image_index=image.index,
                       image_id=image.image_id, timestep=t, round=step.round, n_inclusion=included,
                       n_exclusion=excluded, iou=step.iou, dice=step.dice, predicted_iou=step.predicted_iou,
                       chosen_output=step.chosen, latency_ms=round(1000 * step.latency_s, 3), unix_time=step.time,
                       model=step.model, device=step.device)


def maps_folder(root: str | Path, annotator: str) -> Path:
    """Where an export puts an annotator's map PNGs: ``<root>/<annotator>_maps``."""
    return Path(root) / f"{annotator}_maps"


def exported_maps(step: Timestep) -> tuple[int, MapRecord] | None:
    """(candidate, its maps) that an export writes for a timestep: the chosen candidate's maps,
    else the last computed (for another candidate), else None."""
    if step.chosen in step.maps:
        return step.chosen, step.maps[step.chosen]
    if step.maps:
        chosen = list(step.maps)[-1]
        return chosen, step.maps[chosen]
    return None


def _map_rows(session: AnnotationSession, images: list[StudyImage], snapshot: dict[str, list]):
    for image in images:
        for t, step in enumerate(snapshot.get(image.image_id, [])):
            found = exported_maps(step)
            if found is None:
                continue
            chosen, maps = found
            for name, value in maps.scalars.items():
                yield dict(annotator=session.annotator, category=image.category, image_index=image.index,
                           image_id=image.image_id, timestep=t, chosen=chosen, scalar=name, value=value)


def write_map_scalar_csv(path: str | Path, session: AnnotationSession, images: list[StudyImage],
                         snapshot: dict[str, list] | None = None) -> int:
    """Write the long-format map-scalar CSV atomically (study order, one row per timestep and
    scalar, columns MAP_SCALAR_COLUMNS); returns the number of rows."""
    snapshot = snapshot_timesteps(session, images) if snapshot is None else snapshot
    rows = list(_map_rows(session, images, snapshot))
    _write_csv(path, MAP_SCALAR_COLUMNS, rows)
    return len(rows)


def _write_image_maps(session: AnnotationSession, image: StudyImage, steps: list, folder: Path) -> int:
    """Copy each timestep's map PNGs of one image to ``folder/<i>_<t>_<map>.png``; returns the count."""
    written = 0
    for t, step in enumerate(steps):
        found = exported_maps(step)
        if found is None:
            continue
        for name, path in found[1].files.items():
            atomic_write_bytes(folder / f"{image.index}_{t}_{name}.png", session.map_png(path))
            written += 1
    return written


def compact_rounds(rounds: list[int]) -> dict[int, int]:
    """Session round → exported round: the rounds that have timesteps, numbered 0, 1, … in order
    (PointPrompt's eachround holds 0 and 1; an empty round, e.g. "New round" pressed twice, is skipped)."""
    return {r: i for i, r in enumerate(sorted(set(rounds)))}


def write_image_csv(path: str | Path, session: AnnotationSession, images: list[StudyImage],
                    snapshot: dict[str, list] | None = None, now: float | None = None) -> int:
    """Write the per-image CSV atomically (images of the study the annotator opened, in study
    order); returns the number of rows. ``snapshot`` as for :func:`write_timestep_csv`; ``now``:
    the time an open visit counts up to (default: ``session.now()``)."""
    snapshot = snapshot_timesteps(session, images) if snapshot is None else snapshot
    rows = []
    for image in images:
        record = session.records.get(image.image_id)
        if record is None or image.image_id not in snapshot:
            continue
        steps = snapshot[image.image_id]
        best = best_timestep(steps)
        seconds = record.seconds_at(session.now() if now is None else now)
        verdict = record.gt_suboptimal
        rows.append(dict(annotator=session.annotator, category=image.category, image_index=image.index,
                         image_id=image.image_id, timesteps=len(steps), rounds=len({t.round for t in steps}),
                         best_iou="" if best is None else steps[best].iou, best_timestep="" if best is None else best,
                         seconds=round(seconds, 3), gt_suboptimal="" if verdict is None else str(verdict).lower()))
    _write_csv(path, IMAGE_CSV_COLUMNS, rows)
    return len(rows)


def _write_csv(path: str | Path, columns: tuple[str, ...], rows) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))


def write_timestep_csv(path: str | Path, session: AnnotationSession, images: list[StudyImage],
                       snapshot: dict[str, list] | None = None) -> int:
    """Write the tidy CSV atomically, in study order; returns the number of rows. ``snapshot``:
    the timesteps to write (:func:`snapshot_timesteps`; default: the session's now)."""
    snapshot = snapshot_timesteps(session, images) if snapshot is None else snapshot
    rows = list(_rows(session, images, snapshot))
    _write_csv(path, CSV_COLUMNS, rows)
    return len(rows)


def export_session(session: AnnotationSession, images: list[StudyImage], root: str | Path,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None, maps: bool = False) -> ExportSummary:
    """Write every prompted image of ``images`` in the PointPrompt layout under ``root``, and the CSV.
    ``maps``: also each timestep's map PNGs and the map-scalar CSV, beside the layout (see the
    module docstring).

    The timesteps to write are fixed when the call starts, so the session may go on recording
    meanwhile (an export on a background thread). ``progress(done, total)`` is called after each
    image; ``cancelled()`` is asked before each, and when it says True the export stops with
    :class:`ExportCancelled` (the images written so far stay). The two CSVs of an earlier export
    into ``root`` are removed first and written last, so their absence marks an incomplete export.
    """
    root = Path(root)
    by_id = {image.image_id: image for image in images}
    snapshot = snapshot_timesteps(session, images)
    plan = [(image_id, by_id[image_id], steps) for image_id, steps in snapshot.items() if steps]
    csv_path = root / f"{session.annotator}_timesteps.csv"
    images_csv_path = root / f"{session.annotator}_images.csv"
    map_root = maps_folder(root, session.annotator)
    map_csv_path = root / f"{session.annotator}_map_scalars.csv"
    if maps:
        clash = sorted({image.category for _, image, _ in plan if root / image.category == map_root})
        if clash:
            raise FileExistsError(f"{map_root} is the folder of category {clash[0]!r} in this export, so the maps "
                                  f"cannot go there: export without maps, or under another annotator id")
    for stale in (csv_path, images_csv_path, map_csv_path):  # an earlier export's tables would vouch for this one
        stale.unlink(missing_ok=True)
    folders: set[Path] = set()
    total = map_files = 0
    for done, (image_id, image, steps) in enumerate(plan):
        if cancelled is not None and cancelled():
            raise ExportCancelled(done, len(plan), root)
        folder = root / image.category / session.annotator
        renumber = compact_rounds([step.round for step in steps])
        results = [ResultStep(round=renumber[step.round], green=step.prompts.of_label(INCLUSION),
                              red=step.prompts.of_label(EXCLUSION),
                              score=float("nan") if step.iou is None else step.iou,
                              mask=session.timestep_mask(image_id, t, step.chosen))
                   for t, step in enumerate(steps)]
        write_image_results(folder, image.index, results)
        if maps:
            map_files += _write_image_maps(session, image, steps, map_root / image.category)
        folders.add(folder)
        total += len(results)
        if progress is not None:
            progress(done + 1, len(plan))
    write_image_csv(images_csv_path, session, images, snapshot, now=session.now())
    if maps:
        write_map_scalar_csv(map_csv_path, session, images, snapshot)
    write_timestep_csv(csv_path, session, images, snapshot)  # last: its presence marks a complete export
    skipped = sorted(i for i, r in list(session.records.items()) if r.timesteps and i not in by_id)
    return ExportSummary(sorted(folders), csv_path, total, skipped, images_csv_path,
                         map_root if maps else None, map_csv_path if maps else None, map_files)
