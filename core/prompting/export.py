"""Export a session: PointPrompt "Prompting results" per category, and a tidy CSV of all timesteps.

The results go to ``<root>/<category>/<annotator>/…`` (core.io.pointprompt_results), one
folder per category of the study, with rounds numbered from 0 over the rounds that have
timesteps (PointPrompt has rounds 0 and 1; a third attempt is written as round 2); the CSV to ``<root>/<annotator>_timesteps.csv`` with one
row per timestep (rounds, point counts, IoU, Dice, SAM's predicted IoU, chosen candidate,
decode latency, wall-clock time, model, device), ready for pandas or R.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from core.io.atomic import atomic_write
from core.io.pointprompt_results import ResultStep, write_image_results
from core.prompting.prompt_set import EXCLUSION, INCLUSION
from core.prompting.session import AnnotationSession
from core.prompting.study import StudyImage

CSV_COLUMNS = ("annotator", "category", "image_index", "image_id", "timestep", "round", "n_inclusion",
               "n_exclusion", "iou", "dice", "predicted_iou", "chosen_output", "latency_ms", "unix_time",
               "model", "device")


@dataclass
class ExportSummary:
    """What an export wrote: annotator folders, the CSV, and images prompted but not in the study."""

    folders: list[Path]
    csv_path: Path
    timesteps: int
    skipped: list[str]


def _rows(session: AnnotationSession, images: list[StudyImage]):
    by_id = {image.image_id: image for image in images}
    for image_id, record in session.records.items():
        image = by_id.get(image_id)
        if image is None:
            continue
        for t, step in enumerate(record.timesteps):
            included, excluded = step.prompts.counts
            yield dict(annotator=session.annotator, category=image.category, image_index=image.index,
                       image_id=image_id, timestep=t, round=step.round, n_inclusion=included, n_exclusion=excluded,
                       iou=step.iou, dice=step.dice, predicted_iou=step.predicted_iou, chosen_output=step.chosen,
                       latency_ms=round(1000 * step.latency_s, 3), unix_time=step.time, model=step.model,
                       device=step.device)


def compact_rounds(rounds: list[int]) -> dict[int, int]:
    """Session round → exported round: the rounds that have timesteps, numbered 0, 1, … in order
    (PointPrompt's eachround holds 0 and 1; an empty round, e.g. "New round" pressed twice, is skipped)."""
    return {r: i for i, r in enumerate(sorted(set(rounds)))}


def write_timestep_csv(path: str | Path, session: AnnotationSession, images: list[StudyImage]) -> int:
    """Write the tidy CSV atomically; returns the number of rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in _rows(session, images):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        count += 1
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode("utf-8")))
    return count


def export_session(session: AnnotationSession, images: list[StudyImage], root: str | Path) -> ExportSummary:
    """Write every prompted image of ``images`` in the PointPrompt layout under ``root``, and the CSV."""
    root = Path(root)
    by_id = {image.image_id: image for image in images}
    folders: set[Path] = set()
    total = 0
    for image_id, record in session.records.items():
        if not record.timesteps or image_id not in by_id:
            continue
        image = by_id[image_id]
        folder = root / image.category / session.annotator
        renumber = compact_rounds([step.round for step in record.timesteps])
        steps = [ResultStep(round=renumber[step.round], green=step.prompts.of_label(INCLUSION),
                            red=step.prompts.of_label(EXCLUSION),
                            score=float("nan") if step.iou is None else step.iou,
                            mask=session.timestep_mask(image_id, t))
                 for t, step in enumerate(record.timesteps)]
        write_image_results(folder, image.index, steps)
        folders.add(folder)
        total += len(steps)
    csv_path = root / f"{session.annotator}_timesteps.csv"
    write_timestep_csv(csv_path, session, images)
    skipped = sorted(i for i, r in session.records.items() if r.timesteps and i not in by_id)
    return ExportSummary(sorted(folders), csv_path, total, skipped)
