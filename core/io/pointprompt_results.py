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
lab's analysis code reads it. Every file is written atomically. Reading never unpickles with
numpy's own loader: :func:`core.io.safe_npy.read_npy` rebuilds numeric arrays only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_save_npy, atomic_write_bytes
from core.io.images import ImageReadError
from core.io.masks import encode_mask_png, read_mask
from core.io.safe_npy import NpyReadError, read_npy


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
        """(H, W) bool mask of timestep t (0/1 or 0/255 PNGs), read by :func:`core.io.masks.read_mask`."""
        try:
            return read_mask(self.mask_path(t))
        except ImageReadError as error:
            raise ResultsError(f"{error} (image index {self.index}, timestep {t})") from error


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


def _load(path: Path, index: int, allow_objects: bool = False) -> np.ndarray:
    """One .npy file of image ``index``, read by :func:`core.io.safe_npy.read_npy` (no code runs)."""
    if not path.is_file():
        raise ResultsError(f"{path} is missing (image index {index}): every image needs eachround/, points/ "
                           "(green and red), scores/ and sorts/ files")
    try:
        return read_npy(path, allow_objects=allow_objects)
    except NpyReadError as error:
        timesteps = getattr(error, "indices", [])
        at = f", timestep {', '.join(map(str, timesteps[:10]))}" if timesteps else ""
        raise ResultsError(f"{error} (image index {index}{at})") from error


def _numbers(array: np.ndarray, dtype: type, path: Path, index: int) -> np.ndarray:
    """A 1-D per-timestep array of ``dtype`` (np.int64 or np.float64), or ResultsError naming the file."""
    if array.dtype.kind not in "biuf":
        raise ResultsError(f"{path} holds {array.dtype} values (image index {index}); expected one number per timestep")
    if dtype is np.int64 and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ResultsError(f"{path} holds NaN or infinite values (image index {index}); expected whole numbers")
    return array.astype(dtype).reshape(-1)


def _point_set(points, path: Path, index: int, t: int) -> np.ndarray:
    """(n, 2) float64 (x, y) from one element of a points file: (n, 2), (2,) or empty."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (ValueError, TypeError) as error:
        raise ResultsError(f"{path}, timestep {t} (image index {index}): not an array of points ({error})") from error
    if array.size == 0:
        return np.zeros((0, 2))
    if array.shape == (2,):
        array = array.reshape(1, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ResultsError(f"{path}, timestep {t} (image index {index}): points of shape {array.shape}; expected "
                           "(n, 2) (x, y) pixel coordinates")
    if not np.isfinite(array).all():
        raise ResultsError(f"{path}, timestep {t} (image index {index}): NaN or infinite point coordinates")
    return array


def read_image_results(folder: str | Path, index: int) -> ImageResults:
    """Read and cross-check one image's results from an annotator folder.

    Raises :class:`ResultsError` naming the file, the image index and (where it applies) the
    timestep when a file is missing, damaged, refused (see :mod:`core.io.safe_npy`), holds
    the wrong kind of values, or the files disagree on the number of timesteps (a mask PNG for
    a timestep past the last counts as disagreement). Other files in the folder are ignored.
    """
    folder = Path(folder)
    paths = {name: folder / sub / f"{index}{suffix}" for name, sub, suffix in (
        ("eachround", "eachround", "_.npy"), ("points green", "points", "_green.npy"),
        ("points red", "points", "_red.npy"), ("scores", "scores", "score.npy"), ("sorts", "sorts", "_sort.npy"))}
    rounds = _numbers(_load(paths["eachround"], index), np.int64, paths["eachround"], index)
    green = _load(paths["points green"], index, allow_objects=True)
    red = _load(paths["points red"], index, allow_objects=True)
    scores = _numbers(_load(paths["scores"], index), np.float64, paths["scores"], index)
    sorts = (_numbers(_load(paths["sorts"], index), np.int64, paths["sorts"], index) if paths["sorts"].is_file()
             else best_to_worst(scores))
    lengths = {"eachround": len(rounds), "points green": len(green), "points red": len(red), "scores": len(scores)}
    if len(set(lengths.values())) != 1:
        raise ResultsError(f"{folder}: image index {index} has different timestep counts per file: "
                           + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    if not len(scores):
        raise ResultsError(f"{paths['scores']} holds no timesteps (image index {index}); remove the image's files "
                           "or export it again")
    if sorted(sorts.tolist()) != list(range(len(scores))):
        raise ResultsError(f"{paths['sorts']} is not an order of the {len(scores)} timesteps (image index {index}); "
                           "delete it to have it recomputed from the scores")
    for t in range(len(scores)):
        if not (folder / "masks" / f"{index}_{t}_mask.png").is_file():
            raise ResultsError(f"{folder / 'masks' / f'{index}_{t}_mask.png'} is missing (image index {index}, "
                               f"timestep {t} of {len(scores)})")
    if (folder / "masks" / f"{index}_{len(scores)}_mask.png").is_file():
        raise ResultsError(f"{folder / 'masks' / f'{index}_{len(scores)}_mask.png'} exists but the other files of "
                           f"image index {index} hold {len(scores)} timesteps: the folder mixes two exports")
    as_sets = [[_point_set(p, path, index, t) for t, p in enumerate(points)]
               for points, path in ((green, paths["points green"]), (red, paths["points red"]))]
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
