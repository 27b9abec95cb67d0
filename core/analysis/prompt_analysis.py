"""Walk PointPrompt "Prompting results" (ours or the published ones) and analyse each image.

Layout read (core.io.pointprompt_results)::

    <results>/<category>/<annotator>/{eachround,points,masks,scores,sorts}/…

Images are visited one at a time, category by category, image index by image index, and within
an image annotator by annotator, so the ground truth of an image (from an "Image datasets"
folder, core.io.image_datasets) is read once and nothing but one image is held in memory.
Each visit yields an :class:`ImageAnalysis`: one row per timestep (TIMESTEP_COLUMNS) and one
per round (ROUND_COLUMNS). Nothing is fatal: a file that cannot be used is recorded in
``skipped`` (:class:`Skipped`: the file or folder, why, and what was left out) and the walk goes on.

IoU: ``iou_recorded`` is the score in the results file (as the study measured it: the published
scores use the lab's own ground truth); ``iou_recomputed`` is IoU(mask PNG, ground truth) when a
dataset is given; ``iou_differs`` flags a difference over ``AnalysisOptions.iou_tolerance``;
``iou``, the one analysed (first/best/last), is the recorded score, or the recomputed one where
no score was recorded (an export made without ground truth). Best = the highest ``iou`` of the
round, the earliest on ties (core.analysis.over_prompting.best_index, as the app and export).

Top-level files of the results folder, hidden entries and our export's ``<annotator>_maps``
folder are ignored; everything else that is not a category folder, an annotator folder or a
results file is named in ``skipped``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.analysis.data_features import DATA_FEATURES, data_features
from core.analysis.over_prompting import best_index
from core.analysis.prompt_features import PROMPT_FEATURES, TruthGeometry, prompt_features, truth_geometry
from core.analysis.session_timing import (
    EXPORT_LOG_NAME,
    SessionLog,
    exported_image_ids,
    image_id_for,
    match_timing,
    read_session_log,
)
from core.io.event_log import EventLogError
from core.io.image_datasets import CategoryEntry, DatasetError, category_entries
from core.io.images import ImageReadError
from core.io.masks import MaskSizeError
from core.io.pointprompt_results import ImageResults, ResultsError, read_image_results
from core.prompting.metrics import iou as mask_iou

TIMESTEP_COLUMNS = ("category", "annotator", "image_index", "timestep", "round", "step_in_round", "n_inclusion",
                    "n_exclusion", "iou", "iou_recorded", "iou_recomputed", "iou_differs", "is_first", "is_best",
                    "is_last", "after_best", "elapsed_s", *PROMPT_FEATURES)
ROUND_COLUMNS = ("category", "annotator", "image_index", "round", "timesteps", "first_timestep", "best_timestep",
                 "last_timestep", "first_iou", "best_iou", "last_iou", "best_minus_first", "best_minus_last",
                 "over_prompted", "n_inclusion_best", "n_exclusion_best", "n_inclusion_last", "n_exclusion_last",
                 "timesteps_after_best", "time_to_best_s", "round_seconds", "iou_differs", "has_ground_truth",
                 *DATA_FEATURES)
SKIPPED_COLUMNS = ("source", "category", "annotator", "image_index", "timestep", "reason", "effect")
RESULT_FILES = {"eachround": r"(\d+)_\.npy", "points": r"(\d+)_(?:green|red)\.npy", "scores": r"(\d+)score\.npy",
                "sorts": r"(\d+)_sort\.npy", "masks": r"(\d+)_\d+_mask\.png"}


@dataclass
class AnalysisOptions:
    """categories, annotators: only these (None: all). sessions: event logs (files or session
    folders) to time the timesteps with; an export's own ``session-events.jsonl`` in the results
    folder is used without asking. over_prompt_threshold: a round is over-prompted when best −
    last IoU exceeds it (the app's warning threshold). iou_tolerance: recorded and recomputed IoU
    differ when further apart than this."""

    categories: list[str] | None = None
    annotators: list[str] | None = None
    sessions: list[Path] = field(default_factory=list)
    over_prompt_threshold: float = 0.05
    iou_tolerance: float = 1e-6


@dataclass
class Skipped:
    """A file or folder the analysis could not use: where, why (the reader's message, which
    names the file) and what was left out because of it."""

    source: str
    reason: str
    effect: str
    category: str = ""
    annotator: str = ""
    image_index: int | None = None
    timestep: int | None = None

    def row(self) -> dict:
        return {k: getattr(self, k) for k in SKIPPED_COLUMNS}


@dataclass
class ImageAnalysis:
    """One (category, image index, annotator): its TIMESTEP_COLUMNS rows and ROUND_COLUMNS rows."""

    category: str
    image_index: int
    annotator: str
    timesteps: list[dict]
    rounds: list[dict]


class AnalysisCancelled(Exception):
    """The analysis was cancelled after ``done`` of ``total`` images."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"Analysis cancelled after {done} of {total} images; no tables were written.")
        self.done, self.total = done, total


@dataclass
class _Truth:
    """An image's ground truth as the walk needs it (None members: not available)."""

    geometry: TruthGeometry | None = None
    features: dict[str, float] = field(default_factory=dict)


def _named_file(message: str, folder: Path) -> str:
    """The file inside ``folder`` that a reader's message names (the folder when it names none)."""
    match = re.search(re.escape(str(folder)) + r"[/\\][^\s,:()]+", message)
    return match.group(0) if match else str(folder)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


class ResultsWalk:
    """Plan the walk over ``results_root`` on construction (directory listings only), then
    iterate with :meth:`images`. ``total`` images; ``skipped`` grows as the walk goes."""

    def __init__(self, results_root: str | Path, dataset_root: str | Path | None = None,
                 options: AnalysisOptions | None = None) -> None:
        self.results_root = Path(results_root)
        self.dataset_root = None if dataset_root is None else Path(dataset_root)
        self.options = options or AnalysisOptions()
        self.skipped: list[Skipped] = []
        if not self.results_root.is_dir():
            raise FileNotFoundError(f"{self.results_root} is not a folder: give a PointPrompt 'Prompting results' "
                                    "folder (<category>/<annotator>/scores/…) or one of our exports")
        self.plan = self._plan()
        self.total = sum(len(annotators) for _, _, annotators in self.plan)
        self.logs = self._read_logs()
        self._image_ids: dict[str, dict[tuple[str, int], str]] = {}
        self.done = 0  # images × annotators visited by :meth:`images` so far

    # --- planning --------------------------------------------------------------------------
    def _plan(self) -> list[tuple[str, int, list[tuple[str, Path]]]]:
        plan = []
        wanted = self.options.categories
        for category_dir in sorted(p for p in self.results_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (wanted is not None and category_dir.name not in wanted) or self._is_export_maps(category_dir):
                continue
            by_index: dict[int, list[tuple[str, Path]]] = {}
            annotators = 0
            for folder in sorted(p for p in category_dir.iterdir() if not p.name.startswith(".")):
                if not (folder.is_dir() and any((folder / sub).is_dir() for sub in RESULT_FILES)):
                    self.skipped.append(Skipped(str(folder), "not an annotator results folder (no eachround/, points/, "
                                                "masks/, scores/ or sorts/ inside)", "ignored", category_dir.name))
                    continue
                annotators += 1
                if self.options.annotators is not None and folder.name not in self.options.annotators:
                    continue
                for index in self._indices(folder, category_dir.name):
                    by_index.setdefault(index, []).append((folder.name, folder))
            if not annotators:
                self.skipped.append(Skipped(str(category_dir), "holds no annotator results folder (<annotator>/"
                                            "eachround/, points/, scores/, …)", "ignored", category_dir.name))
            plan.extend((category_dir.name, index, by_index[index]) for index in sorted(by_index))
        return plan

    def _is_export_maps(self, folder: Path) -> bool:
        """Our export's ``<annotator>_maps`` folder (gradient maps beside the layout), not a category."""
        name = folder.name
        return name.endswith("_maps") and (self.results_root / f"{name[:-len('_maps')]}_timesteps.csv").is_file()

    def _indices(self, folder: Path, category: str) -> list[int]:
        """Image indices with any results file in an annotator folder; stray names are skipped."""
        found: set[int] = set()
        for sub, pattern in RESULT_FILES.items():
            if not (folder / sub).is_dir():
                continue
            for path in (folder / sub).iterdir():
                match = re.fullmatch(pattern, path.name)
                if match and path.is_file():
                    found.add(int(match.group(1)))
                elif not path.name.startswith("."):
                    self.skipped.append(Skipped(str(path), f"not a PointPrompt results file name in {sub}/",
                                                "ignored", category, folder.name))
        return sorted(found)

    def _read_logs(self) -> list[SessionLog]:
        sources = list(self.options.sessions)
        if (self.results_root / EXPORT_LOG_NAME).is_file():
            sources.append(self.results_root / EXPORT_LOG_NAME)
        logs, seen = [], set()
        for source in sources:
            try:
                log = read_session_log(source)
            except (EventLogError, OSError) as error:
                self.skipped.append(Skipped(str(source), str(error), "no time columns from this log"))
                continue
            if log.path.resolve() not in seen:
                seen.add(log.path.resolve())
                logs.append(log)
        return logs

    # --- walking ---------------------------------------------------------------------------
    def images(self, cancelled: Callable[[], bool] | None = None) -> Iterator[ImageAnalysis]:
        """One :class:`ImageAnalysis` per (category, image index, annotator), in plan order;
        an image whose results cannot be read yields nothing (it is in ``skipped``).
        ``cancelled()`` is asked before each; True raises :class:`AnalysisCancelled`."""
        entries: dict[int, CategoryEntry] | None = None
        current_category = None
        done = self.done = 0
        for category, index, annotators in self.plan:
            if cancelled is not None and cancelled():
                raise AnalysisCancelled(done, self.total)
            if category != current_category:
                current_category, entries = category, self._entries(category)
            truth = self._truth(category, index, entries)
            for annotator, folder in annotators:
                if cancelled is not None and cancelled():
                    raise AnalysisCancelled(done, self.total)
                done = self.done = done + 1
                try:
                    results = read_image_results(folder, index)
                except ResultsError as error:
                    self.skipped.append(Skipped(_named_file(str(error), folder), str(error),
                                                "image left out for this annotator", category, annotator, index))
                    continue
                yield self._analyse(category, annotator, results, truth)

    def _entries(self, category: str) -> dict[int, CategoryEntry] | None:
        if self.dataset_root is None:
            return None
        try:
            return {entry.index: entry for entry in category_entries(self.dataset_root, category)}
        except DatasetError as error:
            self.skipped.append(Skipped(str(self.dataset_root / category), str(error),
                                        "no ground truth for this category: features and recomputed IoU left empty",
                                        category))
            return None

    def _truth(self, category: str, index: int, entries: dict[int, CategoryEntry] | None) -> _Truth:
        if entries is None:
            return _Truth()
        entry = entries.get(index)
        if entry is None:
            self.skipped.append(Skipped(str(self.dataset_root / category), f"the dataset has no image {index} in "
                                        f"category {category!r} ({len(entries)} images)",
                                        "features and recomputed IoU left empty", category, "", index))
            return _Truth()
        try:
            loaded = entry.read()
        except (DatasetError, MaskSizeError, ImageReadError) as error:
            self.skipped.append(Skipped(entry.source, str(error), "features and recomputed IoU left empty",
                                        category, "", index))
            return _Truth()
        if loaded.truth is None or not loaded.truth.any():
            self.skipped.append(Skipped(entry.source, "no ground truth, or an empty one (no object pixels)",
                                        "features and recomputed IoU left empty", category, "", index))
            return _Truth()
        geometry = truth_geometry(loaded.truth)
        return _Truth(geometry, data_features(loaded.image, loaded.truth, geometry.diameter))

    def _timing(self, category: str, annotator: str, results: ImageResults) -> list[float] | None:
        if annotator not in self._image_ids:
            try:
                self._image_ids[annotator] = exported_image_ids(self.results_root, annotator)
            except (OSError, ValueError) as error:
                self.skipped.append(Skipped(str(self.results_root), str(error), "image ids taken as <category>/<index>",
                                            "", annotator))
                self._image_ids[annotator] = {}
        for log in self.logs:
            if log.annotator != annotator:
                continue
            image_id = image_id_for(category, results.index, self._image_ids[annotator], log)
            if image_id is None:
                continue
            matched = match_timing(results, log.images[image_id])
            if isinstance(matched, str):
                self.skipped.append(Skipped(str(log.path), f"the log does not match the results: {matched}",
                                            "time columns left empty", category, annotator, results.index))
                return None
            return matched
        return None

    def _recomputed(self, category: str, annotator: str, results: ImageResults, t: int,
                    geometry: TruthGeometry) -> float | None:
        try:
            mask = results.mask(t)
        except ResultsError as error:
            self.skipped.append(Skipped(str(results.mask_path(t)), str(error), "recomputed IoU left empty",
                                        category, annotator, results.index, t))
            return None
        if mask.shape != geometry.truth.shape:
            self.skipped.append(Skipped(str(results.mask_path(t)), f"the mask is {mask.shape[1]}×{mask.shape[0]} "
                                        f"pixels, its ground truth {geometry.truth.shape[1]}×{geometry.truth.shape[0]} "
                                        "(width×height)", "recomputed IoU left empty", category, annotator,
                                        results.index, t))
            return None
        return mask_iou(mask, geometry.truth)

    def _image_size(self, category: str, annotator: str, results: ImageResults) -> tuple[int, int] | None:
        """(H, W) from the first timestep's mask, for the diagonal when there is no ground truth."""
        try:
            return results.mask(0).shape
        except ResultsError as error:
            self.skipped.append(Skipped(str(results.mask_path(0)), str(error),
                                        "image size unknown: chamfer distance and exclusion spread left empty",
                                        category, annotator, results.index, 0))
            return None

    def _analyse(self, category: str, annotator: str, results: ImageResults, truth: _Truth) -> ImageAnalysis:
        geometry = truth.geometry
        size = geometry.truth.shape if geometry is not None else self._image_size(category, annotator, results)
        elapsed = self._timing(category, annotator, results)
        rows = []
        for t in range(len(results)):
            recorded = _finite(results.scores[t])
            recomputed = None if geometry is None else self._recomputed(category, annotator, results, t, geometry)
            differs = (None if recorded is None or recomputed is None
                       else int(abs(recorded - recomputed) > self.options.iou_tolerance))
            rows.append({"category": category, "annotator": annotator, "image_index": results.index, "timestep": t,
                         "round": int(results.rounds[t]), "n_inclusion": len(results.green[t]),
                         "n_exclusion": len(results.red[t]), "iou": recorded if recorded is not None else recomputed,
                         "iou_recorded": recorded, "iou_recomputed": recomputed, "iou_differs": differs,
                         "elapsed_s": None if elapsed is None else elapsed[t],
                         **prompt_features(results.green[t], results.red[t], geometry, size)})
        rounds = [self._round([r for r in rows if r["round"] == number], truth)
                  for number in dict.fromkeys(r["round"] for r in rows)]
        return ImageAnalysis(category, results.index, annotator, rows, rounds)

    def _round(self, steps: list[dict], truth: _Truth) -> dict:
        """Mark first/best/last in one round's timestep rows and return its ROUND_COLUMNS row."""
        best = best_index([s["iou"] for s in steps], [0] * len(steps))
        first, last = steps[0], steps[-1]
        for position, step in enumerate(steps):
            step.update(step_in_round=position, is_first=int(position == 0), is_best=int(position == best),
                        is_last=int(position == len(steps) - 1), after_best=None if best is None else position - best)
        top = None if best is None else steps[best]

        def value(row: dict | None, key: str):
            return None if row is None else row[key]

        def gap(a: dict | None, b: dict) -> float | None:
            return None if a is None or a["iou"] is None or b["iou"] is None else a["iou"] - b["iou"]

        loss = gap(top, last)
        differs = [s["iou_differs"] for s in steps if s["iou_differs"] is not None]
        return {"category": first["category"], "annotator": first["annotator"], "image_index": first["image_index"],
                "round": first["round"], "timesteps": len(steps), "first_timestep": first["timestep"],
                "best_timestep": value(top, "timestep"), "last_timestep": last["timestep"], "first_iou": first["iou"],
                "best_iou": value(top, "iou"), "last_iou": last["iou"], "best_minus_first": gap(top, first),
                "best_minus_last": loss,
                "over_prompted": None if loss is None else int(loss > self.options.over_prompt_threshold),
                "n_inclusion_best": value(top, "n_inclusion"), "n_exclusion_best": value(top, "n_exclusion"),
                "n_inclusion_last": last["n_inclusion"], "n_exclusion_last": last["n_exclusion"],
                "timesteps_after_best": None if best is None else len(steps) - 1 - best,
                "time_to_best_s": value(top, "elapsed_s"), "round_seconds": last["elapsed_s"],
                "iou_differs": sum(differs) if differs else None, "has_ground_truth": int(truth.geometry is not None),
                **{name: truth.features.get(name) for name in DATA_FEATURES}}
