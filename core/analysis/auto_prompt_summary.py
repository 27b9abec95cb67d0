"""Summaries of automated prompting, computed from the written PointPrompt layout.

The numbers are read back from ``<out>/<category>/auto_<strategy>/`` with
:func:`core.io.pointprompt_results.read_image_results`, as any human annotator's results would be,
so images finished by an earlier (resumed) run count the same as new ones.

Per image (one row of ``auto_prompt_images.csv``): first / best / last IoU (best: ``sorts[0]``,
earliest on ties), the number of points (inclusion + exclusion) at those timesteps, inclusion and
exclusion points at the last, the number of timesteps, and NoC@85 / NoC@90 (:mod:`core.analysis.noc`;
capped at the strategy's click limit for ``error_region``, at the points of the last timestep for
one-shot strategies). Per strategy and category, and over all images of a strategy ("all"): the
means of those, best − first, and the share of images that never reach 0.85 / 0.90.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from core.analysis.noc import clicks_to_reach, noc_summary
from core.io.atomic import atomic_write
from core.io.pointprompt_results import ImageResults

THRESHOLDS = (0.85, 0.90)
IMAGE_COLUMNS = ("strategy", "category", "index", "timesteps", "first_iou", "best_iou", "last_iou", "best_t",
                 "points_first", "points_best", "points_last", "inclusion_last", "exclusion_last",
                 "noc85", "reached85", "noc90", "reached90")
SUMMARY_COLUMNS = ("strategy", "category", "images", "first_iou", "best_iou", "last_iou", "best_minus_first",
                   "points_first", "points_best", "points_last", "inclusion_last", "exclusion_last", "timesteps",
                   "noc85", "failed85", "noc90", "failed90")


def image_record(strategy: str, category: str, results: ImageResults, cap: int | None) -> dict:
    """One image's row (see the module docstring); ``cap``: the NoC cap, None for the last timestep's points."""
    points = [len(g) + len(r) for g, r in zip(results.green, results.red)]
    best = int(results.sorts[0])
    record = {"strategy": strategy, "category": category, "index": results.index, "timesteps": len(results),
              "first_iou": float(results.scores[0]), "best_iou": float(results.scores[best]),
              "last_iou": float(results.scores[-1]), "best_t": best, "points_first": points[0],
              "points_best": points[best], "points_last": points[-1], "inclusion_last": len(results.green[-1]),
              "exclusion_last": len(results.red[-1])}
    for threshold in THRESHOLDS:
        key = round(threshold * 100)
        record[f"noc{key}"], record[f"reached{key}"] = clicks_to_reach(
            results.scores, points, threshold, points[-1] if cap is None else cap)
    return record


def summarise(records: list[dict]) -> dict:
    """Means over image records of one strategy (and category): the SUMMARY_COLUMNS after category."""
    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in records])) if records else float("nan")

    out: dict = {"images": len(records)}
    for key in ("first_iou", "best_iou", "last_iou"):
        out[key] = mean(key)
    out["best_minus_first"] = out["best_iou"] - out["first_iou"]
    for key in ("points_first", "points_best", "points_last", "inclusion_last", "exclusion_last", "timesteps"):
        out[key] = mean(key)
    for threshold in THRESHOLDS:
        key = round(threshold * 100)
        nocs = noc_summary([(r[f"noc{key}"], r[f"reached{key}"]) for r in records])
        out[f"noc{key}"], out[f"failed{key}"] = nocs["mean"], nocs["failed"]
    return out


def summary_tables(records: list[dict], strategies: list[str], categories: list[str]) -> dict[str, dict[str, dict]]:
    """{strategy: {category or "all": summarise(...)}} over the given image records."""
    tables: dict[str, dict[str, dict]] = {}
    for strategy in strategies:
        mine = [r for r in records if r["strategy"] == strategy]
        tables[strategy] = {c: summarise([r for r in mine if r["category"] == c]) for c in categories}
        tables[strategy]["all"] = summarise(mine)
    return tables


def _csv_bytes(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in columns})
    return text.getvalue().encode()


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_summary_files(out_root: Path, summary: dict, records: list[dict]) -> dict[str, Path]:
    """Write ``auto_prompt_summary.json``, ``auto_prompt_summary.csv`` (one row per strategy and
    category, then "all") and ``auto_prompt_images.csv`` (one row per image) into ``out_root``,
    atomically, beside the category folders. Returns their paths by kind. NaN becomes null in JSON."""
    rows = [{"strategy": s, "category": c, **stats} for s, by_category in summary["strategies"].items()
            for c, stats in by_category.items()]
    paths = {"json": out_root / "auto_prompt_summary.json", "csv": out_root / "auto_prompt_summary.csv",
             "images_csv": out_root / "auto_prompt_images.csv"}
    data = (json.dumps(_json_safe(summary), indent=2) + "\n").encode()
    atomic_write(paths["json"], lambda f: f.write(data))
    atomic_write(paths["csv"], lambda f: f.write(_csv_bytes(SUMMARY_COLUMNS, rows)))
    atomic_write(paths["images_csv"], lambda f: f.write(_csv_bytes(IMAGE_COLUMNS, records)))
    return paths
