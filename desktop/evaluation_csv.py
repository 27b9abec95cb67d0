"""Read a trust evaluation's ``per_image.csv`` (core.analysis.trust_evaluation) for the scatter plot.

Only what the plot needs is kept: the rows of the ``clean`` set (each correct or incorrect) and
of the ``ood`` set; corrupted variants (``noise-3``, ...) share their source image's path and
are counted, not plotted. Every score column named in core.gradients.trust_scores.SCORES is read
as float64 (an empty or unreadable cell is NaN). No Qt here.

Limits: a file over :data:`MAX_BYTES` or with more than :data:`MAX_ROWS` rows is refused; any
problem raises :class:`EvaluationCsvError` with a message for the user, never another error.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.gradients.trust_scores import SCORES

PER_IMAGE = "per_image.csv"
DETECTOR = "purview_detector.json"
MAX_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
REQUIRED = ("set", "path", "correct", "msp")
CORRECT, INCORRECT, OOD = 0, 1, 2  # the kinds of point


class EvaluationCsvError(Exception):
    """The evaluation folder or its per_image.csv cannot be used; the message says why and what to do."""


@dataclass
class EvaluationPoints:
    """N plotted rows. paths: the image path of each row as the CSV has it (see :func:`resolve`);
    kinds: (N,) int8, CORRECT / INCORRECT (clean set) or OOD; scores: name → (N,) float64;
    skipped: rows of other sets (corruptions); csv_path: the file read; detector: the folder's
    purview_detector.json, or None."""

    paths: list[str]
    kinds: np.ndarray
    scores: dict[str, np.ndarray]
    skipped: int
    csv_path: Path
    detector: Path | None

    def __len__(self) -> int:
        return len(self.paths)

    def resolve(self, path: str) -> Path:
        """A row's path as a file: as written when it exists (absolute, or relative to the working
        folder), else relative to the evaluation folder."""
        raw = Path(path)
        try:
            if raw.is_absolute() or raw.exists():
                return raw
            beside = self.csv_path.parent / raw
            return beside if beside.exists() else raw
        except (OSError, ValueError):  # e.g. a NUL byte in the path: reading it will say so
            return raw


def read_evaluation(location: str | Path) -> EvaluationPoints:
    """Read ``location`` (an evaluation folder, or its per_image.csv); see the module docstring."""
    location = Path(location)
    path = location / PER_IMAGE if location.is_dir() else location
    try:
        size = path.stat().st_size
    except OSError:
        raise EvaluationCsvError(f"No {PER_IMAGE} in {location}: choose the folder that "
                                 "pointprompt evaluate-trust --out wrote.") from None
    if size > MAX_BYTES:
        raise EvaluationCsvError(f"{path} is {size / 2**20:.0f} MB, over the {MAX_BYTES // 2**20} MB this plot "
                                 "reads: evaluate fewer images (--limit) or plot a subset of the rows.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationCsvError(f"Cannot read {path} as UTF-8 text: {error}") from error
    rows = _rows(text, path)
    detector = path.parent / DETECTOR
    return _points(rows, path, detector if detector.is_file() else None)


def _rows(text: str, path: Path) -> list[dict[str, str]]:
    try:  # csv's own cell limit (131072 characters) stands
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
        if missing:
            raise EvaluationCsvError(f"{path} is not a per_image.csv of pointprompt evaluate-trust: it has no "
                                     f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}.")
        rows = []
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise EvaluationCsvError(f"{path} has more than {MAX_ROWS} rows, more than this plot reads.")
            rows.append(row)
        return rows
    except csv.Error as error:
        raise EvaluationCsvError(f"{path} is not a readable CSV file (line {reader.line_num}: {error}).") from error


def _number(cell: str | None) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):
        return float("nan")


def _points(rows: list[dict[str, str]], path: Path, detector: Path | None) -> EvaluationPoints:
    kept, kinds, skipped = [], [], 0
    for row in rows:
        kind = row.get("set")
        if kind == "ood":
            kinds.append(OOD)
        elif kind == "clean" and (row.get("correct") or "").strip() in ("0", "1"):
            kinds.append(CORRECT if row["correct"].strip() == "1" else INCORRECT)
        else:
            skipped += 1
            continue
        kept.append(row)
    if not kept:
        raise EvaluationCsvError(f"{path} has no rows of the clean or ood sets to plot ({len(rows)} rows read).")
    names = [name for name in SCORES if name in kept[0]]
    scores = {name: np.array([_number(row.get(name)) for row in kept], np.float64) for name in names}
    return EvaluationPoints([row.get("path") or "" for row in kept], np.array(kinds, np.int8), scores, skipped,
                            path, detector)
