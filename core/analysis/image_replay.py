"""Replay one image: every annotator's recorded sequence and every intervention, against one embedding.

For an image with ground truth, the image is embedded once; then

1. the recorded sets of all its annotators are decoded (each distinct set once, equal-length sets
   together: :func:`core.analysis.set_scoring.score_prompt_sets`), giving the replayed IoUs, and
   from them each round's final and best timestep;
2. for every click and intervention, the sets at its round's final and best timesteps
   (:func:`core.analysis.click_attribution.click_sets`) that were not decoded yet are decoded, again
   all of the image's together.

The result is a plain dict (JSON-able, picklable for Ray): ``category``, ``image_index``,
``timesteps`` and ``clicks`` (rows of click_attribution's TIMESTEP_COLUMNS and CLICK_COLUMNS),
``skipped`` ({annotator ("" for the whole image), reason}), ``prompt_sets`` and ``decoder_calls``
(decoded here), ``embed_s`` and ``decode_s``. A file that cannot be read costs only its image
(or its annotator's results for that image), named in ``skipped``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.analysis.click_attribution import click_rows, click_sets, timestep_rows
from core.analysis.click_tracking import TrackedSequence, track_clicks
from core.analysis.interventions import DEFAULT_MOVE_FRACTION, INTERVENTIONS, BoundaryGeometry, set_key
from core.analysis.set_scoring import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PIXEL_BUDGET,
    ScoringStats,
    score_prompt_sets,
    truth_tensor,
)
from core.io.image_datasets import CategoryEntry, DatasetError, category_entries
from core.io.images import ImageReadError
from core.io.masks import MaskSizeError
from core.io.pointprompt_results import ResultsError, read_image_results
from core.models.checkpoint import load_sam, load_tiny_sam
from core.models.sam_engine import SamEngine


@dataclass(frozen=True)
class ReplayItem:
    """One image to replay: its category, index, and (annotator, results folder) pairs."""

    category: str
    index: int
    annotators: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return f"{self.category}/{self.index}"


@dataclass(frozen=True)
class ReplayOptions:
    """dataset: the "Image datasets" folder. interventions: names of
    :data:`core.analysis.interventions.INTERVENTIONS`. output: the candidate scored (PointPrompt: 0).
    move_px / move_fraction: the move distance (interventions module). batch_size, pixel_budget:
    the most sets and upscaled pixels per decoder call."""

    dataset: str
    interventions: tuple[str, ...] = INTERVENTIONS
    output: int = 0
    move_px: float | None = None
    move_fraction: float = DEFAULT_MOVE_FRACTION
    batch_size: int = DEFAULT_BATCH_SIZE
    pixel_budget: int = DEFAULT_PIXEL_BUDGET


@dataclass(frozen=True)
class EngineSpec:
    """How a worker loads its model: ``checkpoint`` (None: the shipped tiny SAM), ``device``,
    ``disk_cache`` (the user's embedding cache folder), ``threads`` (torch threads; None: leave)."""

    checkpoint: str | None = None
    device: str = "auto"
    disk_cache: bool = True
    threads: int | None = None

    def build(self) -> SamEngine:
        """Load the model (in the worker that calls this)."""
        if self.threads:
            torch.set_num_threads(self.threads)
        return SamEngine.from_checkpoint(self.checkpoint, device=self.device, cache_dir=self.disk_cache)

    def model_key(self) -> str:
        """The model's identity key (variant and weights hash), read from the checkpoint without a device."""
        _, identity = load_tiny_sam() if self.checkpoint is None else load_sam(self.checkpoint)
        return identity.key


@dataclass
class _Sequence:
    annotator: str
    recorded: np.ndarray
    tracked: TrackedSequence
    replayed: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _outside(tracked: TrackedSequence, height: int, width: int) -> str | None:
    """A reason when a recorded point lies outside the image, else None."""
    for t in range(len(tracked)):
        for points in (tracked.green[t], tracked.red[t]):
            bad = (points[:, 0] < 0) | (points[:, 0] >= width) | (points[:, 1] < 0) | (points[:, 1] >= height)
            if bad.any():
                x, y = points[bad][0]
                return f"timestep {t}: point ({x:g}, {y:g}) lies outside the {width}×{height} image (x, y)"
    return None


class ImageReplayer:
    """Replays images with one engine (a worker's model, loaded once). Keeps the dataset entries of
    the category it last read (layout A holds a whole category in one file)."""

    def __init__(self, engine: SamEngine, options: ReplayOptions) -> None:
        self.engine, self.options = engine, options
        self._category: str | None = None
        self._entries: dict[int, CategoryEntry] | Exception = {}

    @classmethod
    def create(cls, engine_factory, options: ReplayOptions) -> "ImageReplayer":
        """A replayer whose engine ``engine_factory()`` builds (e.g. :meth:`EngineSpec.build`): for workers."""
        return cls(engine_factory(), options)

    def _entry(self, item: ReplayItem) -> CategoryEntry:
        if item.category != self._category:
            self._category = item.category
            try:
                self._entries = {e.index: e for e in category_entries(self.options.dataset, item.category)}
            except DatasetError as error:
                self._entries = error
        if isinstance(self._entries, Exception):
            raise DatasetError(str(self._entries))
        if item.index not in self._entries:
            raise DatasetError(f"the dataset {self.options.dataset} has no image {item.index} in category "
                               f"{item.category!r} ({len(self._entries)} images)")
        return self._entries[item.index]

    def __call__(self, item: ReplayItem) -> dict:
        """Replay one image (module docstring)."""
        out = {"category": item.category, "image_index": item.index, "timesteps": [], "clicks": [], "skipped": [],
               "prompt_sets": 0, "decoder_calls": 0, "embed_s": 0.0, "decode_s": 0.0}
        try:
            loaded = self._entry(item).read()
        except (DatasetError, MaskSizeError, ImageReadError) as error:
            out["skipped"].append({"annotator": "", "reason": str(error)})
            return out
        if loaded.truth is None or not loaded.truth.any():
            out["skipped"].append({"annotator": "", "reason": f"{item.key}: no ground truth, or an empty one"})
            return out
        sequences = self._sequences(item, loaded.truth.shape, out["skipped"])
        if not sequences:
            return out
        started = time.perf_counter()
        embedding = self.engine.embed(loaded.image)
        if self.engine.device.type == "cuda":
            torch.cuda.synchronize(self.engine.device)
        out["embed_s"] = time.perf_counter() - started
        started = time.perf_counter()
        self._replay(item, sequences, embedding, loaded.truth, out)
        out["decode_s"] = time.perf_counter() - started
        return out

    def _sequences(self, item: ReplayItem, shape: tuple[int, int], skipped: list[dict]) -> list[_Sequence]:
        sequences = []
        for annotator, folder in item.annotators:
            try:
                results = read_image_results(Path(folder), item.index)
            except ResultsError as error:
                skipped.append({"annotator": annotator, "reason": str(error)})
                continue
            tracked = track_clicks(results.rounds, results.green, results.red)
            reason = _outside(tracked, *shape)
            if reason is not None:
                skipped.append({"annotator": annotator, "reason": f"{folder} image index {item.index}: {reason}"})
                continue
            sequences.append(_Sequence(annotator, results.scores, tracked))
        return sequences

    def _replay(self, item: ReplayItem, sequences: list[_Sequence], embedding, truth: np.ndarray, out: dict) -> None:
        options, stats = self.options, ScoringStats()
        truth_on_device = truth_tensor(self.engine, truth)
        scores: dict[bytes, float] = {}

        def score_all(prompts) -> None:
            todo = {}
            for prompt in prompts:
                key = set_key(prompt)
                if key not in scores and key not in todo:
                    todo[key] = prompt
            ious = score_prompt_sets(self.engine, embedding, truth_on_device, list(todo.values()), options.output,
                                     options.batch_size, options.pixel_budget, stats)
            scores.update(zip(todo, ious.tolist()))

        score_all([(s.tracked.green[t], s.tracked.red[t]) for s in sequences for t in range(len(s.tracked))])
        for s in sequences:
            s.replayed = np.array([scores[set_key((s.tracked.green[t], s.tracked.red[t]))] for t in range(len(s.tracked))])
        geometry = (BoundaryGeometry.for_image(truth, options.move_px, options.move_fraction)
                    if any(k.startswith("move_") for k in options.interventions) else None)
        per_sequence = [click_sets(s.tracked, s.replayed, options.interventions, geometry) for s in sequences]
        score_all([p for sets in per_sequence for _, _, at_final, at_best in sets for p in (at_final, at_best)])
        for s, sets in zip(sequences, per_sequence):
            where = {"category": item.category, "annotator": s.annotator, "image_index": item.index}
            out["timesteps"] += timestep_rows(s.tracked, s.recorded, s.replayed, where)
            out["clicks"] += click_rows(s.tracked, s.replayed, sets, geometry, lambda p: scores[set_key(p)], where)
        out["prompt_sets"], out["decoder_calls"] = stats.prompt_sets, stats.decoder_calls
