"""Which images to evaluate a classifier's trust scores on: labelled folders or CSVs, OOD folders.

Labelled sources:

* a folder of class subfolders, ``<root>/<class>/**/<image>``; a subfolder is a class when its
  name is one of the classifier's class names, or a class index (``0``, ``1``, ...);
* a CSV file of ``path,label`` rows (a first row ``path,label`` is a header); paths relative to
  the CSV's folder; labels are class names or indices.

An OOD source is a folder whose images (any depth) all count as out-of-distribution.
Image files are those with a suffix of core.io.images.IMAGE_SUFFIXES. Entries that cannot be
used (a folder or label that names no class, a missing file) are returned as problems, each a
sentence naming the entry; they do not stop the evaluation.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from core.io.images import IMAGE_SUFFIXES


class TrustDatasetError(Exception):
    """The dataset cannot be used at all (missing, empty, no usable class); the message says why."""


@dataclass(frozen=True)
class LabelledImage:
    """An image file and its class index (−1 for OOD images, which have no label)."""

    path: Path
    label: int


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def class_index(label: str, class_names: list[str]) -> int | None:
    """A label (class name, else an index in range) → class index, or None."""
    label = label.strip()
    if label in class_names:
        return class_names.index(label)
    if label.isdigit() and int(label) < len(class_names):
        return int(label)
    return None


def _from_folder(root: Path, class_names: list[str]) -> tuple[list[LabelledImage], list[str]]:
    items, problems = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        index = class_index(folder.name, class_names)
        if index is None:
            problems.append(f"{folder}: the folder names no class of the classifier; skipped")
            continue
        items += [LabelledImage(path, index) for path in _images_under(folder)]
    return items, problems


def _from_csv(path: Path, class_names: list[str]) -> tuple[list[LabelledImage], list[str]]:
    items, problems = [], []
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as error:
        raise TrustDatasetError(f"cannot read the CSV {path}: {error}") from error
    for line, row in enumerate(rows, start=1):
        if not row or (line == 1 and [cell.strip().lower() for cell in row[:2]] == ["path", "label"]):
            continue
        if len(row) < 2:
            problems.append(f"{path}, line {line}: expected 'path,label'; skipped")
            continue
        index = class_index(row[1], class_names)
        if index is None:
            problems.append(f"{path}, line {line}: label {row[1]!r} names no class of the classifier; skipped")
            continue
        image = Path(row[0].strip())
        items.append(LabelledImage(image if image.is_absolute() else path.parent / image, index))
    return items, problems


def list_labelled_images(source: str | Path, class_names: list[str]) -> tuple[list[LabelledImage], list[str]]:
    """The labelled images of a class-folder tree or a ``path,label`` CSV, and the problems found."""
    source = Path(source)
    if source.is_dir():
        items, problems = _from_folder(source, class_names)
    elif source.is_file() and source.suffix.lower() == ".csv":
        items, problems = _from_csv(source, class_names)
    else:
        raise TrustDatasetError(f"{source} is neither a folder of class subfolders nor a .csv of path,label rows")
    if not items:
        raise TrustDatasetError(f"{source} holds no image of the classifier's classes "
                                f"({', '.join(class_names[:10])}{', ...' if len(class_names) > 10 else ''}): "
                                "name the subfolders (or CSV labels) after them")
    return items, problems


def list_ood_images(folder: str | Path) -> list[LabelledImage]:
    """Every image under an OOD folder, label −1."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrustDatasetError(f"the OOD folder {folder} does not exist")
    images = _images_under(folder)
    if not images:
        raise TrustDatasetError(f"the OOD folder {folder} holds no image ({', '.join(IMAGE_SUFFIXES)})")
    return [LabelledImage(path, -1) for path in images]
