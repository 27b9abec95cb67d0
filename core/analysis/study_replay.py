"""Replay a whole study: streaming, resumable, in one process or on Ray.

    replay_study(results_root, dataset_root, out_dir, engine, interventions=..., ray_address=None)

The results folder (PointPrompt "Prompting results": ``<category>/<annotator>/…``, published or
ours) is planned image by image (:class:`core.analysis.prompt_analysis.ResultsWalk`'s plan: one
item per (category, image index) with all its annotators). Each image is replayed by
:class:`core.analysis.image_replay.ImageReplayer` (embedded once, all its prompt sets batched) in
this process, or on Ray workers (:func:`core.analysis.ray_map.map_images`, one model per worker);
results come back in plan order and each is appended as one line to a shard
(:mod:`core.analysis.replay_shards`) before the next is taken: memory holds the plan and a few
images, whatever the study's size. A rerun into the same ``out_dir`` skips every image with a
line (resume after a kill or a cancel); one made with other settings is refused
(:class:`ReplayError`). At the end the shards are merged, in plan order, into::

    timesteps.csv        recorded vs replayed IoU per timestep (click_attribution.TIMESTEP_COLUMNS)
    clicks.csv           one row per click × intervention (CLICK_COLUMNS)
    summary.csv          which clicks hurt, per category × annotator × intervention (replay_report)
    skipped.csv          images or annotators left out, and why
    summary.md           the same in words
    replay_summary.json  written last: settings, counts, reproduction, speed

``progress(done, total)`` after every image (finished images of earlier runs count as done at
the start); ``cancelled()`` before every image: True stops after the images finished so far,
whose results are merged as usual (``"cancelled": true``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from core.analysis.click_attribution import CLICK_COLUMNS, TIMESTEP_COLUMNS
from core.analysis.image_replay import EngineSpec, ImageReplayer, ReplayItem, ReplayOptions
from core.analysis.interventions import DEFAULT_MOVE_FRACTION, INTERVENTIONS, resolve_interventions
from core.analysis.prompt_analysis import AnalysisOptions, ResultsWalk
from core.analysis.ray_map import map_images
from core.analysis.replay_report import SKIPPED_COLUMNS, SUMMARY_COLUMNS, ClickSummary, summary_markdown
from core.analysis.replay_shards import SHARDS, ShardWriter, index_shards, records
from core.analysis.set_scoring import DEFAULT_BATCH_SIZE
from core.io.atomic import atomic_write
from core.io.run_settings import check_run_settings
from core.io.tidy_csv import write_csv
from core.models.sam_engine import SamEngine

SETTINGS_FILE = "replay_settings.json"
SUMMARY_FILE = "replay_summary.json"
SETTINGS_VERSION = 1
# A recorded IoU counts as reproduced within this: batched decoder calls differ from the app's single
# ones in the last bits, which can flip the few pixels whose logits lie within rounding of 0 (about
# 1e-5 of IoU each); another model or another ground truth moves IoUs by far more.
REPRODUCTION_TOLERANCE = 1e-3


class ReplayError(Exception):
    """The output folder holds a replay made with other settings, or a setting is unusable; the message says which."""


def plan_items(results_root: str | Path, categories: Sequence[str] | None = None,
               annotators: Sequence[str] | None = None) -> list[ReplayItem]:
    """One :class:`ReplayItem` per (category, image index) of the results, in category and index order."""
    walk = ResultsWalk(results_root, None, AnalysisOptions(categories=list(categories) if categories else None,
                                                           annotators=list(annotators) if annotators else None))
    return [ReplayItem(category, index, tuple((name, str(folder)) for name, folder in found))
            for category, index, found in walk.plan]


def _model_key(engine: SamEngine | EngineSpec) -> str:
    if isinstance(engine, SamEngine):
        return engine.identity.key
    return engine.model_key()


def _run(items: list[ReplayItem], make_worker: Callable, writer: ShardWriter, model: str, ray_address: str | None,
         workers: int, gpus_per_worker: float, timeout_s: float | None, progress, cancelled, done: int,
         total: int) -> dict:
    """Replay ``items`` and append each result; returns this run's counters."""
    counters = {"images": 0, "prompt_sets": 0, "decoder_calls": 0, "embed_s": 0.0, "decode_s": 0.0,
                "cancelled": False}
    results = map_images(make_worker, items, ray_address, workers, gpus_per_worker, timeout_s)
    try:
        for item in items:
            if cancelled is not None and cancelled():
                counters["cancelled"] = True
                break
            result = next(results)
            writer.append(item.key, item.category, {"model": model, **result})
            counters["images"] += 1
            for name in ("prompt_sets", "decoder_calls", "embed_s", "decode_s"):
                counters[name] += result[name]
            if progress is not None:
                progress(done + counters["images"], total)
    finally:
        results.close()
    return counters


def _merge(out: Path, items: list[ReplayItem], hurt_threshold: float) -> dict:
    """Write the CSVs from the shards, in plan order; return the merged counts."""
    index = index_shards(out / SHARDS)
    keys = [item.key for item in items]
    reproduction = {"timesteps": 0, "compared": 0, "max_abs_difference": 0.0, "over_tolerance": 0,
                    "tolerance": REPRODUCTION_TOLERANCE}

    def timestep_rows():
        for record in records(index, keys):
            for row in record["timesteps"]:
                reproduction["timesteps"] += 1
                if row["iou_difference"] is not None:
                    difference = abs(row["iou_difference"])
                    reproduction["compared"] += 1
                    reproduction["max_abs_difference"] = max(reproduction["max_abs_difference"], difference)
                    reproduction["over_tolerance"] += int(difference > REPRODUCTION_TOLERANCE)
                yield row

    summary = ClickSummary(hurt_threshold)
    counts = {"images": 0, "clicks_rows": 0}

    def click_rows():
        for record in records(index, keys):
            counts["images"] += 1
            for row in record["clicks"]:
                counts["clicks_rows"] += 1
                summary.add(row)
                yield row

    def skipped_rows():
        for record in records(index, keys):
            for entry in record["skipped"]:
                yield {"category": record["category"], "image_index": record["image_index"], **entry}

    write_csv(out / "timesteps.csv", TIMESTEP_COLUMNS, timestep_rows())
    write_csv(out / "clicks.csv", CLICK_COLUMNS, click_rows())
    skipped = write_csv(out / "skipped.csv", SKIPPED_COLUMNS, skipped_rows())
    rows = summary.rows()
    write_csv(out / "summary.csv", SUMMARY_COLUMNS, rows)
    skipped_count = sum(1 for _ in open(skipped)) - 1
    return {"images": counts["images"], "click_rows": counts["clicks_rows"], "skipped": skipped_count,
            "reproduction": reproduction, "summary": rows}


def replay_study(results_root: str | Path, dataset_root: str | Path, out_dir: str | Path,
                 engine: SamEngine | EngineSpec, interventions: str | Sequence[str] = INTERVENTIONS,
                 categories: Sequence[str] | None = None, annotators: Sequence[str] | None = None, output: int = 0,
                 move_px: float | None = None, move_fraction: float = DEFAULT_MOVE_FRACTION,
                 batch_size: int = DEFAULT_BATCH_SIZE, hurt_threshold: float = 0.01, ray_address: str | None = None,
                 workers: int = 2, gpus_per_worker: float = 0.0, timeout_s: float | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> dict:
    """Replay the results under ``results_root`` against the ground truth of ``dataset_root`` (module docstring).

    engine: a loaded :class:`SamEngine` (this process only) or an :class:`EngineSpec` (each worker
    loads it; needed for ``ray_address``). interventions: names or groups
    (:func:`core.analysis.interventions.resolve_interventions`), () for the recorded sets only.
    categories, annotators: only these (None: all). output: the candidate scored (PointPrompt: 0).
    move_px / move_fraction: the move distance. batch_size: the most sets per decoder call.
    hurt_threshold: τ of the summary. ray_address: None (this process), "local" or a cluster
    address; workers, gpus_per_worker: Ray actors and their GPU share; timeout_s: the longest wait
    for one image's result on Ray.
    Returns what ``replay_summary.json`` holds. Raises :class:`ReplayError` (other settings in
    ``out_dir``, no usable engine), FileNotFoundError when ``results_root`` is not a folder,
    ValueError for an unknown intervention, :class:`core.analysis.ray_map.RayUnavailable`.
    """
    started = time.monotonic()
    chosen = resolve_interventions(interventions)
    out, dataset_root = Path(out_dir), Path(dataset_root)
    if not dataset_root.is_dir():
        raise FileNotFoundError(f"{dataset_root} is not a folder: give the PointPrompt 'Image datasets' folder "
                                "with the ground truth of the results")
    if ray_address is not None and isinstance(engine, SamEngine):
        raise ReplayError("a Ray replay needs an EngineSpec (each worker loads its own model), not a loaded engine")
    items = plan_items(results_root, categories, annotators)
    model = _model_key(engine)
    settings = {"version": SETTINGS_VERSION, "results": str(Path(results_root).resolve()),
                "dataset": str(dataset_root.resolve()), "model": model, "interventions": list(chosen),
                "output": output, "move_px": move_px, "move_fraction": move_fraction,
                "annotators": sorted(annotators) if annotators else None}
    check_run_settings(out, SETTINGS_FILE, settings, ReplayError, "a replay")
    finished = index_shards(out / SHARDS)
    todo = [item for item in items if item.key not in finished]
    options = ReplayOptions(str(dataset_root), chosen, output, move_px, move_fraction, batch_size)
    make_worker = (partial(ImageReplayer, engine, options) if isinstance(engine, SamEngine)
                   else partial(ImageReplayer.create, engine.build, options))
    if progress is not None:
        progress(len(items) - len(todo), len(items))
    with ShardWriter(out / SHARDS) as writer:
        run = _run(todo, make_worker, writer, model, ray_address, workers, gpus_per_worker, timeout_s, progress,
                   cancelled, len(items) - len(todo), len(items))
    merged = _merge(out, items, hurt_threshold)
    seconds = time.monotonic() - started
    summary = {**settings, "out": str(out), "engine": engine.description if isinstance(engine, SamEngine) else model,
               "ray": ray_address, "workers": workers if ray_address is not None else 1,
               "images_planned": len(items), "images_resumed": len(items) - len(todo),
               "images_replayed": run["images"], "images_in_tables": merged["images"],
               "click_rows": merged["click_rows"], "skipped": merged["skipped"], "cancelled": run["cancelled"],
               "reproduction": merged["reproduction"], "prompt_sets_decoded": run["prompt_sets"],
               "decoder_calls": run["decoder_calls"], "embed_seconds": round(run["embed_s"], 3),
               "decode_seconds": round(run["decode_s"], 3), "seconds": round(seconds, 3),
               "prompt_sets_per_second": round(run["prompt_sets"] / seconds, 2) if seconds > 0 else None,
               "hurt_threshold": hurt_threshold, "summary": merged["summary"]}
    facts = {k: summary[k] for k in ("results", "dataset", "model", "interventions", "images_in_tables",
                                     "click_rows", "skipped", "hurt_threshold")}
    facts["reproduction (max |replayed − recorded| IoU)"] = merged["reproduction"]["max_abs_difference"]
    text = summary_markdown(facts, merged["summary"]).encode("utf-8")
    atomic_write(out / "summary.md", lambda handle: handle.write(text))
    data = (json.dumps(summary, indent=1, default=_json_default) + "\n").encode("utf-8")
    atomic_write(out / SUMMARY_FILE, lambda handle: handle.write(data))
    return summary


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
