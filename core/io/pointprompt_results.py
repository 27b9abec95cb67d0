"""PointPrompt "Prompting results": write one annotator's results for a category, read them back.

Layout (../shared/pointprompt-format.md), for image index ``i`` with T timesteps::

    <root>/<category>/<annotator>/
        eachround/<i>_.npy        (T,) int64: the round of each timestep
        points/<i>_green.npy      object (T,): element t is the (n_t, 2) int64 (x, y) inclusion set at t
        points/<i>_red.npy        object (T,): the same for exclusion points
        masks/<i>_<t>_mask.png    single-channel uint8 0/255 mask shown at timestep t
        scores/<i>score.npy       (T,) float64 IoU against the ground truth (NaN without one)
        sorts/<i>_sort.npy        (T,) int64 timesteps from best to worst score (stable)

So ``np.load(points/<i>_green.npy, allow_pickle=True)[t]`` is the point set at t, as the
lab's analysis code reads it. Every file is written atomically.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.io.atomic import atomic_save_npy, atomic_write_bytes
from core.io.masks import encode_mask_png


class ResultsError(Exception):
    """A results folder is missing a file or its files disagree; the message names file and image index."""


@dataclass
class ResultStep:
    """One timestep to write: round, (n, 2) inclusion and (m, 2) exclusion (x, y), IoU, (H, W) bool mask."""

    round: int
    green: np.ndarray
    red: np.ndarray
    score: float
    mask: np.ndarray


@dataclass
class ImageResults:
    """One image's published results; masks are read on demand with :meth:`mask`."""

    folder: Path
    index: int
    rounds: np.ndarray
    green: list[np.ndarray]
    red: list[np.ndarray]
    scores: np.ndarray
    sorts: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def mask_path(self, t: int) -> Path:
        return self.folder / "masks" / f"{self.index}_{t}_mask.png"

    def mask(self, t: int) -> np.ndarray:
        """(H, W) bool mask of timestep t (0/1 or 0/255 PNGs)."""
        mask = cv2.imread(str(self.mask_path(t)), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            raise ResultsError(f"{self.mask_path(t)}: missing or unreadable (image index {self.index}, timestep {t})")
        return mask > 0


def _object_array(sets: list[np.ndarray]) -> np.ndarray:
    """A 1-D object array whose elements are the given arrays (np.array would stack equal shapes)."""
    out = np.empty(len(sets), dtype=object)
    for t, points in enumerate(sets):
        out[t] = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    return out


def best_to_worst(scores: np.ndarray) -> np.ndarray:
    """Timestep indices from best to worst score; ties keep timestep order, NaN last."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable").astype(np.int64)


def write_image_results(folder: str | Path, index: int, steps: list[ResultStep]) -> None:
    """Write image ``index``'s timesteps into an annotator folder ``<root>/<category>/<annotator>``."""
    folder = Path(folder)
    scores = np.array([s.score for s in steps], dtype=np.float64)
    atomic_save_npy(folder / "eachround" / f"{index}_.npy", np.array([s.round for s in steps], dtype=np.int64))
    atomic_save_npy(folder / "points" / f"{index}_green.npy", _object_array([s.green for s in steps]), allow_pickle=True)
    atomic_save_npy(folder / "points" / f"{index}_red.npy", _object_array([s.red for s in steps]), allow_pickle=True)
    for t, step in enumerate(steps):
        atomic_write_bytes(folder / "masks" / f"{index}_{t}_mask.png", encode_mask_png(step.mask))
    atomic_save_npy(folder / "scores" / f"{index}score.npy", scores)
    atomic_save_npy(folder / "sorts" / f"{index}_sort.npy", best_to_worst(scores))


def _load(path: Path, index: int, allow_pickle: bool = False) -> np.ndarray:
    if not path.is_file():
        raise ResultsError(f"{path} is missing (image index {index}): every image needs eachround/, points/ "
                           "(green and red), scores/ and sorts/ files")
    try:
        return np.load(path, allow_pickle=allow_pickle)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise ResultsError(f"Cannot read {path} (image index {index}): {error}") from error


def read_image_results(folder: str | Path, index: int) -> ImageResults:
    """Read and cross-check one image's results from an annotator folder."""
    folder = Path(folder)
    rounds = _load(folder / "eachround" / f"{index}_.npy", index).astype(np.int64).reshape(-1)
    green = _load(folder / "points" / f"{index}_green.npy", index, allow_pickle=True)
    red = _load(folder / "points" / f"{index}_red.npy", index, allow_pickle=True)
    scores = _load(folder / "scores" / f"{index}score.npy", index).astype(np.float64).reshape(-1)
    sort_file = folder / "sorts" / f"{index}_sort.npy"
    sorts = _load(sort_file, index).astype(np.int64).reshape(-1) if sort_file.is_file() else best_to_worst(scores)
    lengths = {"eachround": len(rounds), "points green": len(green), "points red": len(red), "scores": len(scores)}
    if len(set(lengths.values())) != 1:
        raise ResultsError(f"{folder}: image index {index} has different timestep counts per file: "
                           + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    for t in range(len(scores)):
        if not (folder / "masks" / f"{index}_{t}_mask.png").is_file():
            raise ResultsError(f"{folder / 'masks' / f'{index}_{t}_mask.png'} is missing (image index {index}, "
                               f"timestep {t} of {len(scores)})")
    as_sets = [[np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in points] for points in (green, red)]
    return ImageResults(folder, index, rounds, as_sets[0], as_sets[1], scores, sorts)


def list_result_indices(folder: str | Path) -> list[int]:
    """Image indices with results in an annotator folder (from scores/<i>score.npy), sorted."""
    found = (re.fullmatch(r"(\d+)score\.npy", p.name) for p in (Path(folder) / "scores").glob("*score.npy"))
    return sorted(int(m.group(1)) for m in found if m)


def list_annotators(root: str | Path, category: str) -> list[str]:
    """Annotator folders (st1, st2, …) of a category that hold a scores/ folder."""
    base = Path(root) / category
    return sorted(p.name for p in base.iterdir() if (p / "scores").is_dir()) if base.is_dir() else []


def read_annotator_results(root: str | Path, category: str, annotator: str) -> dict[int, ImageResults]:
    """All images' results of one annotator for one category, by image index."""
    folder = Path(root) / category / annotator
    if not (folder / "scores").is_dir():
        raise ResultsError(f"{folder} is not a PointPrompt results folder: expected {folder / 'scores'} "
                           "(and eachround/, points/, masks/, sorts/)")
    return {index: read_image_results(folder, index) for index in list_result_indices(folder)}
