"""A study: the ordered list of images an annotator works through, with their ground truth.

Sources: a PointPrompt "Image datasets" folder (both published layouts, one or all
categories), or a plain folder of images with an optional folder of masks matched by file
stem (``cat.png`` ↔ ``cat.png`` / ``cat_mask.png`` / ``cat_label.png`` / ``cat.npy``).
Images are loaded when opened, so a broken file costs only itself: :meth:`StudyImage.load`
raises :class:`StudyImageError` naming the file and the fix, and the others stay usable.

``category`` and ``index`` are the PointPrompt category folder and image index ``<i>`` that
an export uses; for a plain folder the category is the folder's name and the index the
image's position in name order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from core.io.image_datasets import CategoryEntry, DatasetError, category_entries, list_categories
from core.io.images import IMAGE_SUFFIXES, ImageReadError, read_image
from core.io.masks import MaskSizeError, read_mask

MASK_SUFFIXES = ("", "_mask", "_label", "_gt")


class StudyImageError(Exception):
    """One image of a study (or its ground truth) cannot be used; the message says which file and why."""


@dataclass
class LoadedImage:
    """image (H, W, 3) uint8 RGB; truth (H, W) bool or None; note: a warning to show, or ""."""

    image: np.ndarray
    truth: np.ndarray | None
    note: str = ""


@dataclass(frozen=True)
class StudyImage:
    """One image of the study; ``load()`` reads it (and its mask) from disk."""

    image_id: str
    category: str
    index: int
    source: str
    loader: Callable[[], LoadedImage]

    def load(self) -> LoadedImage:
        try:
            loaded = self.loader()
        except (ImageReadError, MaskSizeError, DatasetError) as error:
            raise StudyImageError(str(error)) from error
        if loaded.truth is not None and not loaded.truth.any():
            return LoadedImage(loaded.image, None, f"The ground truth of {self.source} is empty (no object "
                               "pixels), so no IoU is shown or scored; fix the mask file to score this image.")
        return loaded


@lru_cache(maxsize=2)
def _category_entries(root: str, category: str) -> list[CategoryEntry]:
    return category_entries(root, category)


def _dataset_loader(root: Path, category: str, position: int) -> Callable[[], LoadedImage]:
    def load() -> LoadedImage:
        entry = _category_entries(str(root), category)[position].read()
        return LoadedImage(entry.image, entry.truth)
    return load


def _unreadable(message: str) -> Callable[[], LoadedImage]:
    def load() -> LoadedImage:
        raise DatasetError(message)
    return load


def study_from_image_datasets(root: str | Path, categories: list[str] | None = None) -> list[StudyImage]:
    """All images of the given (default: all) categories of a PointPrompt "Image datasets" folder.

    Images are read when opened. A category that cannot be read at all (a damaged or refused
    ``samples.npy``) stays in the study as one entry ``<category>/unreadable`` whose load raises
    the reason, so the other categories stay usable; when every category is unreadable, or the
    folder holds none, StudyImageError is raised.
    """
    root = Path(root)
    names = categories or list_categories(root)
    if not names:
        raise StudyImageError(f"No PointPrompt image dataset in {root}: expected <category>/samples.npy "
                              "or samples/<category>/<i>_sample.npy")
    images, failures = [], []
    for category in names:
        try:
            entries = _category_entries(str(root), category)
        except DatasetError as error:
            failures.append(str(error))
            images.append(StudyImage(f"{category}/unreadable", category, -1, str(root / category),
                                     _unreadable(str(error))))
            continue
        for position, entry in enumerate(entries):
            images.append(StudyImage(entry.name, category, entry.index, entry.source,
                                     _dataset_loader(root, category, position)))
    if len(failures) == len(names):
        raise StudyImageError("; ".join(failures))
    return images


def find_mask(image_path: Path, masks_dir: Path) -> Path | None:
    """The mask of ``image_path`` in ``masks_dir`` by file stem, or None."""
    for extra in MASK_SUFFIXES:
        for suffix in IMAGE_SUFFIXES:
            candidate = masks_dir / f"{image_path.stem}{extra}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def study_from_folder(images_dir: str | Path, masks_dir: str | Path | None = None) -> list[StudyImage]:
    """The images in ``images_dir`` (name order) with masks from ``masks_dir`` matched by stem."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise StudyImageError(f"{images_dir} is not a folder: give a folder of images (PNG, JPEG, TIFF, BMP, .npy)")
    paths = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise StudyImageError(f"{images_dir} holds no images: expected files ending in {', '.join(IMAGE_SUFFIXES)}")
    category = images_dir.name

    def loader(path: Path) -> Callable[[], LoadedImage]:
        def load() -> LoadedImage:
            image = read_image(path)
            mask_path = find_mask(path, Path(masks_dir)) if masks_dir is not None else None
            truth = None if mask_path is None else read_mask(mask_path, image.shape[:2])
            return LoadedImage(image, truth)
        return load

    return [StudyImage(f"{category}/{path.name}", category, index, str(path), loader(path))
            for index, path in enumerate(paths)]


def study_order(images: list[StudyImage], seed: int | None) -> list[StudyImage]:
    """The images in a random order fixed by ``seed`` (None keeps the given order)."""
    if seed is None:
        return list(images)
    order = np.random.default_rng(seed).permutation(len(images))
    return [images[i] for i in order]
