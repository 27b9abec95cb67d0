"""PointPrompt "Image datasets": read both published layouts, write the first one.

Layout A (one pair of object arrays per category)::

    <root>/<category>/samples.npy   object array of N images
    <root>/<category>/labels.npy    object array of N ground-truth masks

Layout B (one file per image)::

    <root>/samples/<category>/<i>_sample.npy
    <root>/labels/<category>/<i>_label.npy

Images are normalised with :func:`core.io.images.to_rgb` (greyscale → RGB, float → uint8) and
masks with :func:`core.io.masks.binarise`; a mask of the wrong size raises
:class:`core.io.masks.MaskSizeError`. Object arrays need ``allow_pickle=True``, as the
published files do: open only datasets you trust.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_save_npy
from core.io.images import ImageReadError, to_rgb
from core.io.masks import binarise, check_mask_size


class DatasetError(Exception):
    """A dataset folder is missing files or holds an entry that cannot be read; the message
    names the file and the image index."""


@dataclass
class DatasetImage:
    """One image of a category: (H, W, 3) uint8 RGB and its (H, W) bool ground truth."""

    category: str
    index: int
    image: np.ndarray
    truth: np.ndarray | None

    @property
    def name(self) -> str:
        return f"{self.category}/{self.index}"


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=True)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise DatasetError(f"Cannot read {path}: it is damaged or not a numpy file ({error})") from error


def _entry(category: str, index: int, image, truth, image_source: str, truth_source: str) -> DatasetImage:
    try:
        rgb = to_rgb(np.asarray(image), f"{image_source} [index {index}]")
        mask = None
        if truth is not None:
            mask = check_mask_size(binarise(np.asarray(truth), f"{truth_source} [index {index}]"),
                                   rgb.shape[:2], f"{truth_source} [index {index}]")
    except ImageReadError as error:
        raise DatasetError(str(error)) from error
    return DatasetImage(category, index, rgb, mask)


def list_categories(root: str | Path) -> list[str]:
    """Category names under ``root`` in either layout, sorted."""
    root = Path(root)
    found = {p.parent.name for p in root.glob("*/samples.npy")}
    if (root / "samples").is_dir():
        found |= {p.name for p in (root / "samples").iterdir() if p.is_dir()}
    return sorted(found)


def read_category(root: str | Path, category: str) -> list[DatasetImage]:
    """All images of one category, in index order, from either layout."""
    root = Path(root)
    samples_file, labels_file = root / category / "samples.npy", root / category / "labels.npy"
    if samples_file.is_file():
        samples = _load_array(samples_file)
        labels = _load_array(labels_file) if labels_file.is_file() else None
        if labels is not None and len(labels) != len(samples):
            raise DatasetError(f"{labels_file} holds {len(labels)} masks but {samples_file} holds {len(samples)} images")
        return [_entry(category, i, samples[i], None if labels is None else labels[i], str(samples_file), str(labels_file))
                for i in range(len(samples))]
    sample_dir = root / "samples" / category
    if not sample_dir.is_dir():
        raise DatasetError(f"No category {category!r} under {root}: expected {samples_file} or {sample_dir}/<i>_sample.npy")
    entries = []
    for path in sorted(sample_dir.glob("*_sample.npy"), key=lambda p: int(re.match(r"\d+", p.name).group())):
        index = int(re.match(r"\d+", path.name).group())
        label_path = root / "labels" / category / f"{index}_label.npy"
        truth = _load_array(label_path) if label_path.is_file() else None
        entries.append(_entry(category, index, _load_array(path), truth, str(path), str(label_path)))
    return entries


def write_category(root: str | Path, category: str, images: list[np.ndarray], masks: list[np.ndarray]) -> Path:
    """Write layout A: ``<root>/<category>/samples.npy`` and ``labels.npy`` as object arrays
    (uint8 images, uint8 0/1 masks), atomically. Returns the category folder."""
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    folder = Path(root) / category
    samples = np.empty(len(images), dtype=object)
    labels = np.empty(len(masks), dtype=object)
    for i, (image, mask) in enumerate(zip(images, masks)):
        samples[i] = np.asarray(image, dtype=np.uint8)
        labels[i] = np.asarray(mask, dtype=np.uint8)
    atomic_save_npy(folder / "samples.npy", samples, allow_pickle=True)
    atomic_save_npy(folder / "labels.npy", labels, allow_pickle=True)
    return folder
