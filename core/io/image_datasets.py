"""PointPrompt "Image datasets": read both published layouts, write the first one.

Layout A (one pair of object arrays per category)::

    <root>/<category>/samples.npy   object array of N images
    <root>/<category>/labels.npy    object array of N ground-truth masks

Layout B (one file per image)::

    <root>/samples/<category>/<i>_sample.npy
    <root>/labels/<category>/<i>_label.npy

Images are normalised with :func:`core.io.images.to_rgb` (greyscale → RGB, float → uint8) and
masks with :func:`core.io.masks.binarise`; a mask of the wrong size raises
:class:`core.io.masks.MaskSizeError`. Files are read with :func:`core.io.safe_npy.read_npy`:
object arrays are unpickled without running code, and anything but numeric arrays is refused
with a :class:`DatasetError` naming the file and the image index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from core.io.atomic import atomic_save_npy
from core.io.images import MAX_PIXELS, ImageReadError, to_rgb
from core.io.masks import MaskSizeError, binarise, check_mask_size
from core.io.safe_npy import NpyReadError, RefusedContentError, read_npy


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


@dataclass(frozen=True)
class CategoryEntry:
    """One image of a category, not yet converted: ``read()`` returns its :class:`DatasetImage`
    or raises :class:`DatasetError` (or :class:`core.io.masks.MaskSizeError`) for this image alone."""

    category: str
    index: int
    source: str
    read: Callable[[], DatasetImage]

    @property
    def name(self) -> str:
        return f"{self.category}/{self.index}"


def _load_array(path: Path, index: int | None = None) -> np.ndarray:
    """A .npy file of the dataset; ``index``: the image it belongs to (layout B), for the message."""
    try:
        return read_npy(path)
    except NpyReadError as error:
        indices = [index] if index is not None else getattr(error, "indices", [])
        where = f" (image index {', '.join(map(str, indices[:10]))})" if indices else ""
        raise DatasetError(f"{error}{where}") from error


def _convert(category: str, index: int, image, truth, image_source: str, truth_source: str) -> DatasetImage:
    image_source, truth_source = f"{image_source} [index {index}]", f"{truth_source} [index {index}]"
    try:
        image = np.asarray(image)
        if image.ndim >= 2 and image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise ImageReadError(f"{image_source} is {image.shape[1]}×{image.shape[0]} pixels, over the "
                                 f"{MAX_PIXELS // 1_000_000} MP limit; downscale it first")
        rgb = to_rgb(image, image_source)
        mask = None
        if truth is not None:
            mask = check_mask_size(binarise(np.asarray(truth), truth_source), rgb.shape[:2], truth_source)
    except MaskSizeError:
        raise
    except (ImageReadError, ValueError, TypeError) as error:  # ValueError/TypeError: ragged or odd elements
        raise DatasetError(f"{image_source}: {error}" if image_source not in str(error) else str(error)) from error
    return DatasetImage(category, index, rgb, mask)


def list_categories(root: str | Path) -> list[str]:
    """Category names under ``root`` in either layout, sorted."""
    root = Path(root)
    found = {p.parent.name for p in root.glob("*/samples.npy")}
    if (root / "samples").is_dir():
        found |= {p.name for p in (root / "samples").iterdir() if p.is_dir()}
    return sorted(found)


def _index_of(path: Path) -> int | None:
    match = re.fullmatch(r"(\d+)_sample\.npy", path.name)
    return int(match.group(1)) if match else None


def category_entries(root: str | Path, category: str) -> list[CategoryEntry]:
    """The images of one category, in index order, each read on demand.

    Layout A reads (and checks) both arrays now, since every image is in them; layout B only
    lists its files. Raises :class:`DatasetError` when the category is missing or a layout-A
    file cannot be read (naming the file and, where known, the image index).
    """
    root = Path(root)
    samples_file, labels_file = root / category / "samples.npy", root / category / "labels.npy"
    if samples_file.is_file():
        samples = _load_array(samples_file)
        labels = _load_array(labels_file) if labels_file.is_file() else None
        if samples.ndim != 1:
            raise DatasetError(f"{samples_file} is an array of shape {samples.shape}; expected a 1-D object "
                               "array with one image per element")
        if labels is not None and (labels.ndim != 1 or len(labels) != len(samples)):
            raise DatasetError(f"{labels_file} holds {len(labels) if labels.ndim == 1 else labels.shape} masks but {samples_file} holds "
                               f"{len(samples)} images: they must pair one to one")

        def layout_a(i: int) -> Callable[[], DatasetImage]:
            return lambda: _convert(category, i, samples[i], None if labels is None else labels[i],
                                    str(samples_file), str(labels_file))

        return [CategoryEntry(category, i, f"{samples_file} [index {i}]", layout_a(i)) for i in range(len(samples))]
    sample_dir = root / "samples" / category
    if not sample_dir.is_dir():
        raise DatasetError(f"No category {category!r} under {root}: expected {samples_file} or {sample_dir}/<i>_sample.npy")

    def layout_b(path: Path, index: int) -> Callable[[], DatasetImage]:
        def read() -> DatasetImage:
            label_path = root / "labels" / category / f"{index}_label.npy"
            truth = _load_array(label_path, index) if label_path.is_file() else None
            return _convert(category, index, _load_array(path, index), truth, str(path), str(label_path))
        return read

    files = sorted((index, path) for path in sample_dir.glob("*_sample.npy") if (index := _index_of(path)) is not None)
    return [CategoryEntry(category, index, str(path), layout_b(path, index)) for index, path in files]


def read_category(root: str | Path, category: str) -> list[DatasetImage]:
    """All images of one category, in index order, from either layout; the first image that
    cannot be read raises (:class:`DatasetError` or :class:`core.io.masks.MaskSizeError`)."""
    return [entry.read() for entry in category_entries(root, category)]


def images_with_truth(root: str | Path, categories: list[str] | None = None,
                      limit: int | None = None) -> list[DatasetImage]:
    """The images of ``categories`` (default: all, in :func:`list_categories` order; at most
    ``limit`` per category) that have a non-empty ground truth: the targets of an evaluation."""
    images = []
    for category in categories or list_categories(root):
        for entry in category_entries(root, category)[:limit]:
            image = entry.read()
            if image.truth is not None and image.truth.any():
                images.append(image)
    return images


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
