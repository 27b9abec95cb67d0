"""Run automated point selection over a dataset and write it as PointPrompt results.

For every image of the chosen categories (a PointPrompt "Image datasets" folder, either layout)
and every chosen strategy, the image is embedded once and:

* a one-shot strategy (:data:`core.analysis.point_strategies.STRATEGIES`) places its budget of
  points (:func:`core.analysis.point_budgets.budget_for`: the paper's per-category budget, or the
  ``budget`` given); its timesteps are the prompt-set prefixes of
  :mod:`core.analysis.prompt_prefixes` (points added one at a time, alternating kinds), decoded
  together in :meth:`SamEngine.decode_batch` calls, the first multimask output kept;
* ``error_region`` clicks sequentially (:mod:`core.analysis.error_region_clicking`), up to
  ``max_clicks`` clicks.

Output, under ``out_root``::

    <category>/auto_<strategy>/...   the PointPrompt "Prompting results" layout (round 0 only),
                                     read by read_annotator_results like a human annotator's
    auto_prompt_settings.json        model, seed, click limit, budget override of the results here
    auto_prompt_summary.json / .csv  per strategy and category (auto_prompt_summary.py)
    auto_prompt_images.csv           one row per image and strategy

Resumable: an image whose results for a strategy are already complete (every file present and
consistent, sorts written last) is skipped; a run into a folder made with other settings is
refused (:class:`AutoPromptError`). Points are drawn from a generator seeded with (seed, strategy,
category, image index), so a resumed or partial run places exactly the points a whole run would.
``progress(done, total)`` is called after every image; ``cancelled()`` is asked before every
image, and when true the run stops between images and still writes the summary of what is done.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.analysis.auto_prompt_summary import image_record, summary_tables, write_summary_files
from core.analysis.error_region_clicking import error_region_steps
from core.analysis.point_budgets import budget_for
from core.analysis.point_strategies import STRATEGIES
from core.analysis.prompt_prefixes import decode_first_masks, prompt_prefixes
from core.io.run_settings import check_run_settings
from core.io.image_datasets import CategoryEntry, DatasetError, DatasetImage, category_entries, list_categories
from core.io.masks import MaskSizeError
from core.io.pointprompt_results import ResultsError, ResultStep, read_image_results, write_image_results
from core.models.embedding_cache import ImageEmbedding
from core.models.sam_engine import SamEngine
from core.prompting.metrics import iou

SEQUENTIAL = "error_region"
ALL_STRATEGIES = (*STRATEGIES, SEQUENTIAL)
SETTINGS_FILE = "auto_prompt_settings.json"
SETTINGS_VERSION = 1


class AutoPromptError(Exception):
    """The output folder holds automated results made with other settings; the message says which."""


def annotator_name(strategy: str) -> str:
    """The annotator folder of a strategy: ``auto_<strategy>`` (e.g. auto_kmedoids)."""
    return f"auto_{strategy}"


def resolve_strategies(strategy: str | Sequence[str]) -> list[str]:
    """Strategy names from one name, "all", a comma-separated list or a sequence; ValueError names the known ones."""
    names = strategy.split(",") if isinstance(strategy, str) else list(strategy)
    names = [n.strip() for n in names if n.strip()]
    names = list(ALL_STRATEGIES) if names == ["all"] else names
    unknown = [n for n in names if n not in ALL_STRATEGIES]
    if unknown or not names:
        raise ValueError(f"unknown strategy {unknown[0] if unknown else strategy!r}; choose from "
                         f"{', '.join(ALL_STRATEGIES)} or all")
    return list(dict.fromkeys(names))


def image_seed(seed: int, strategy: str, category: str, index: int) -> np.random.Generator:
    """The generator of one (strategy, category, image): the same in every run with this ``seed``."""
    return np.random.default_rng([seed, zlib.crc32(strategy.encode()), zlib.crc32(category.encode()), index])


def is_complete(folder: Path, index: int) -> bool:
    """Whether image ``index`` has complete, consistent results in an annotator folder (sorts/ last)."""
    if not (folder / "sorts" / f"{index}_sort.npy").is_file():
        return False
    try:
        read_image_results(folder, index)
    except ResultsError:
        return False
    return True


def one_shot_steps(engine: SamEngine, embedding: ImageEmbedding, truth: np.ndarray, image: np.ndarray,
                   strategies: list[str], budget: tuple[int, int], rngs: dict[str, np.random.Generator],
                   batch_size: int = 32) -> dict[str, list[ResultStep]]:
    """Every one-shot strategy's timesteps on one image, all prefixes decoded together.

    truth: (H, W) bool; image: (H, W, 3) uint8. Returns {strategy: steps} (empty steps when the
    strategy placed no point)."""
    prefixes = {}
    for name in strategies:
        inclusion, exclusion = STRATEGIES[name](truth, image, budget[0], budget[1], rngs[name])
        prefixes[name] = prompt_prefixes(inclusion, exclusion)
    flat = [(name, prompt) for name in strategies for prompt in prefixes[name]]
    masks = decode_first_masks(engine, embedding, [prompt for _, prompt in flat], batch_size)
    steps: dict[str, list[ResultStep]] = {name: [] for name in strategies}
    for (name, (green, red)), mask in zip(flat, masks):
        steps[name].append(ResultStep(round=0, green=green, red=red, score=iou(mask, truth), mask=mask))
    return steps


def image_steps(engine: SamEngine, item: DatasetImage, strategies: list[str], budget: tuple[int, int], seed: int = 0,
                max_clicks: int = 20, batch_size: int = 32) -> dict[str, list[ResultStep]]:
    """The timesteps of every strategy on one image with a non-empty ground truth, embedded once.

    Returns {strategy: steps}, as :func:`auto_prompt` writes them (the one-shot strategies' points
    from :func:`image_seed`)."""
    embedding = engine.embed(item.image)
    one_shot = [n for n in strategies if n != SEQUENTIAL]
    rngs = {n: image_seed(seed, n, item.category, item.index) for n in one_shot}
    steps = one_shot_steps(engine, embedding, item.truth, item.image, one_shot, budget, rngs, batch_size)
    if SEQUENTIAL in strategies:
        steps[SEQUENTIAL] = error_region_steps(engine, embedding, item.truth, max_clicks)
    return steps


def _remove_stale_masks(folder: Path, index: int, timesteps: int) -> None:
    """Mask PNGs of ``index`` at timesteps >= ``timesteps`` left by an interrupted write."""
    for path in (folder / "masks").glob(f"{index}_*_mask.png"):
        t = path.name[len(f"{index}_"):-len("_mask.png")]
        if t.isdigit() and int(t) >= timesteps:
            path.unlink()


def _run_entry(engine: SamEngine, entry: CategoryEntry, folders: dict[str, Path], todo: list[str],
               budget: tuple[int, int], seed: int, max_clicks: int, batch_size: int, notes: dict[str, list]) -> bool:
    """Read, prompt and write one image for the strategies in ``todo``; True when it was prompted.
    An unreadable image goes to ``notes["errors"]``, one without ground truth to ``notes["skipped"]``."""
    try:
        item = entry.read()
    except (DatasetError, MaskSizeError) as error:
        notes["errors"].append({"image": entry.name, "error": str(error)})
        return False
    if item.truth is None or not item.truth.any():
        reason = "no ground truth" if item.truth is None else "empty ground truth"
        notes["skipped"].append({"image": entry.name, "reason": reason})
        return False
    for name, timesteps in image_steps(engine, item, todo, budget, seed, max_clicks, batch_size).items():
        if not timesteps:
            notes["skipped"].append({"image": entry.name, "strategy": name, "reason": "no point could be placed"})
            continue
        _remove_stale_masks(folders[name], entry.index, len(timesteps))
        write_image_results(folders[name], entry.index, timesteps)
    return True


def _records(out_root: Path, entries: list[CategoryEntry], names: list[str], max_clicks: int) -> list[dict]:
    """The summary rows of every complete (image, strategy) of this run, read back from the layout."""
    records = []
    for entry in entries:
        for name in names:
            folder = out_root / entry.category / annotator_name(name)
            if is_complete(folder, entry.index):
                records.append(image_record(name, entry.category, read_image_results(folder, entry.index),
                                            max_clicks if name == SEQUENTIAL else None))
    return records


def auto_prompt(engine: SamEngine, dataset_root: str | Path, strategy: str | Sequence[str], out_root: str | Path,
                categories: Sequence[str] | None = None, limit: int | None = None, seed: int = 0,
                budget: tuple[int, int] | None = None, max_clicks: int = 20, batch_size: int = 32,
                progress: Callable[[int, int], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> dict:
    """Run ``strategy`` (a name, "all", or several) over a dataset; write results and summaries.

    categories: the dataset's categories to run (default all); limit: the first ``limit`` images
    of each; budget: (n_inclusion, n_exclusion) for every category instead of the paper's;
    max_clicks: the click limit of ``error_region`` (and its NoC cap); batch_size: the most
    prompt sets per decoder call.
    Returns the summary written to ``auto_prompt_summary.json``: the settings, ``strategies``
    ({strategy: {category | "all": statistics}}), ``budgets`` per category, ``images_done`` (prompted
    now), ``images_resumed`` (complete already), ``skipped`` and ``errors`` (per image, with the
    reason), ``cancelled``, ``seconds`` and ``files``. Raises ValueError for an unknown strategy or
    category, :class:`AutoPromptError` for an output folder with other settings, DatasetError for
    an unreadable category file.
    """
    started = time.monotonic()
    names = resolve_strategies(strategy)
    dataset_root, out_root = Path(dataset_root), Path(out_root)
    known = list_categories(dataset_root)
    chosen = list(dict.fromkeys(categories)) if categories else known
    missing = [c for c in chosen if c not in known]
    if missing or not chosen:
        raise ValueError(f"no category {missing[0] if missing else ''!r} in {dataset_root}; it has: "
                         f"{', '.join(known) or 'none'}")
    budgets = {c: budget_for(c, budget) for c in chosen}
    settings = {"version": SETTINGS_VERSION, "model": engine.identity.key, "seed": seed, "max_clicks": max_clicks,
                "budget": list(budget) if budget is not None else None}
    entries = [e for c in chosen for e in category_entries(dataset_root, c)[:limit]]
    check_run_settings(out_root, SETTINGS_FILE, settings, AutoPromptError, "automated results")
    done = resumed = 0
    notes: dict[str, list] = {"skipped": [], "errors": []}
    stopped = False
    for position, entry in enumerate(entries):
        if cancelled is not None and cancelled():
            stopped = True
            break
        folders = {n: out_root / entry.category / annotator_name(n) for n in names}
        todo = [n for n in names if not is_complete(folders[n], entry.index)]
        if not todo:
            resumed += 1
        elif _run_entry(engine, entry, folders, todo, budgets[entry.category], seed, max_clicks, batch_size, notes):
            done += 1
        if progress is not None:
            progress(position + 1, len(entries))
    records = _records(out_root, entries, names, max_clicks)
    summary = {**settings, "dataset": str(dataset_root), "out": str(out_root), "model_description": engine.description,
               "budgets": {c: list(b) for c, b in budgets.items()},
               "strategies": summary_tables(records, names, chosen), "images_done": done,
               "images_resumed": resumed, **notes, "cancelled": stopped,
               "seconds": round(time.monotonic() - started, 3)}
    summary["files"] = {k: str(v) for k, v in write_summary_files(out_root, summary, records).items()}
    return summary
