"""Does uncertainty predict error? Simulated clicking over a dataset with ground truth.

For every object, two click sequences of up to ``clicks`` clicks, each decoded as the app
decodes (multimask output, no mask input; the candidate kept by the app's rule: the first
output, PointPrompt's, or SAM's best-rated):

* ``error``: click 1 at the object's most interior point, later clicks at the centre of the
  largest error region (the standard protocol, core.prompting.click_simulation);
* ``suggested``: the same first click, later clicks where the app suggests
  (core.gradients.suggest_click on the ``suggest_from`` map) with the suggestion's own label,
  accepted as is: no ground truth steers these clicks;
* ``suggested_truth_label``: clicks at the suggested places, labelled by the ground truth (an
  annotator who looks where the app points and clicks what is really there).

After every click all maps and scalars are computed (core.gradients.sam_maps). Reported:

* per scalar, oriented so that higher means "less sure" (SAM's predicted IoU and the stability
  score are negated): AUROC for detecting a mask with IoU < ``bad_iou`` and Spearman's rank
  correlation with 1 − IoU, over every (object, click) of the ``error`` sequences;
* per map, the AUROC of its pixels for predicting the mask's wrong pixels (mask XOR truth),
  averaged over the masks that have both right and wrong pixels;
* mean IoU after k = 1..clicks clicks, error-region clicking against suggested clicking.

scikit-learn computes AUROC (``roc_auc_score``), SciPy Spearman's rho (``spearmanr``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.gradients.sam_maps import MAPS, SamMaps, compute_sam_maps
from core.gradients.suggest_click import suggest_click
from core.io.atomic import atomic_write
from core.models.sam_engine import SamEngine
from core.prompting.click_simulation import corrective_click, most_interior_point
from core.prompting.metrics import iou

LOWER_IS_UNSURE = ("predicted_iou", "stability_score")  # confidence scores: negated for "higher = unsure"
SEQUENCES = ("error", "suggested", "suggested_truth_label")


@dataclass
class EvaluationOptions:
    clicks: int = 5
    bad_iou: float = 0.8
    chosen: str = "first"  # "first" (PointPrompt's and the app's default) or "best" (SAM's best-rated)
    suggest_from: str = "intervention_total"
    pixel_sample: int = 20_000  # pixels per mask for the map AUROCs (all when the mask is smaller)
    seed: int = 0


@dataclass
class EvaluationRecords:
    """rows: one dict per (object, sequence, click): ids, IoU and every scalar;
    pixel_aurocs: map name → per-mask AUROCs of its pixels for the mask's wrong pixels."""

    rows: list[dict] = field(default_factory=list)
    pixel_aurocs: dict[str, list[float]] = field(default_factory=dict)


def _decode_step(engine: SamEngine, embedding, points: list, labels: list, chosen_rule: str) -> SamMaps:
    decoded_iou = engine.decode_logits(embedding, np.array(points), np.array(labels))[1]
    chosen = 0 if chosen_rule == "first" else int(np.argmax(decoded_iou))
    return compute_sam_maps(engine, embedding, np.array(points), np.array(labels), chosen)


def _pixel_aurocs(maps: SamMaps, truth: np.ndarray, records: EvaluationRecords, rng: np.random.Generator,
                  sample: int) -> None:
    from sklearn.metrics import roc_auc_score

    wrong = (maps.mask != truth).ravel()
    if wrong.all() or not wrong.any():
        return
    pick = rng.choice(wrong.size, size=min(sample, wrong.size), replace=False)
    if wrong[pick].all() or not wrong[pick].any():
        pick = np.arange(wrong.size)
    names = list(maps.maps)
    scores = np.stack([maps.maps[name].ravel()[pick] for name in names], axis=1)  # (pixels, maps): one call
    aurocs = roc_auc_score(np.repeat(wrong[pick][:, None], len(names), axis=1), scores, average=None)
    for name, value in zip(names, aurocs):
        records.pixel_aurocs.setdefault(name, []).append(float(value))


def evaluate_object(engine: SamEngine, image: np.ndarray, truth: np.ndarray, image_id: str,
                    options: EvaluationOptions, records: EvaluationRecords, rng: np.random.Generator) -> None:
    """Both click sequences on one (H, W, 3) image and its (H, W) bool truth; appends to ``records``."""
    embedding = engine.embed(image)
    for sequence in SEQUENCES:
        points, labels = [most_interior_point(truth)], [1]
        for click in range(1, options.clicks + 1):
            maps = _decode_step(engine, embedding, points, labels, options.chosen)
            score = iou(maps.mask, truth)
            records.rows.append({"image_id": image_id, "sequence": sequence, "click": click, "iou": score,
                                 "chosen": maps.chosen, **maps.scalars})
            if sequence == "error":
                _pixel_aurocs(maps, truth, records, rng, options.pixel_sample)
            if click == options.clicks:
                break
            if sequence == "error":
                found = corrective_click(maps.mask, truth)
                next_click = None if found is None else (found[0], found[1])
            else:
                suggestion = suggest_click(maps.maps[options.suggest_from], maps.mask, options.suggest_from,
                                           np.array(points))
                next_click = None if suggestion is None else ((suggestion.x, suggestion.y), suggestion.label)
                if next_click is not None and sequence == "suggested_truth_label":
                    next_click = (next_click[0], int(truth[suggestion.y, suggestion.x]))
            if next_click is None:  # exact, or nothing to suggest: the mask stays as it is
                for later in range(click + 1, options.clicks + 1):
                    records.rows.append({**records.rows[-1], "click": later})
                break
            points.append(next_click[0])
            labels.append(next_click[1])


def _scalar_names(rows: list[dict]) -> list[str]:
    fixed = {"image_id", "sequence", "click", "iou", "chosen"}
    return [name for name in rows[0] if name not in fixed]


def summarise(records: EvaluationRecords, options: EvaluationOptions) -> dict:
    """AUROC / Spearman per scalar, mean pixel AUROC per map, mean IoU per click and sequence."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    error_rows = [r for r in records.rows if r["sequence"] == "error"]
    ious = np.array([r["iou"] for r in error_rows])
    bad = ious < options.bad_iou
    scalars = {}
    for name in _scalar_names(error_rows):
        values = np.array([r.get(name, np.nan) for r in error_rows], dtype=np.float64)
        if name in LOWER_IS_UNSURE:
            values = -values
        usable = np.isfinite(values)
        auroc = (float(roc_auc_score(bad[usable], values[usable]))
                 if 0 < bad[usable].sum() < usable.sum() else float("nan"))
        constant = usable.sum() < 3 or np.ptp(values[usable]) == 0
        rho = float("nan") if constant else spearmanr(values[usable], 1 - ious[usable]).statistic
        scalars[name] = {"auroc_bad_mask": auroc, "spearman_error": float(rho)}
    maps = {name: {"pixel_auroc": float(np.mean(values)), "masks": len(values)}
            for name, values in records.pixel_aurocs.items()}
    clicks = {}
    for sequence in SEQUENCES:
        rows = [r for r in records.rows if r["sequence"] == sequence]
        clicks[sequence] = [float(np.mean([r["iou"] for r in rows if r["click"] == k]))
                            for k in range(1, options.clicks + 1)]
    return {"objects": len({r["image_id"] for r in records.rows}), "masks": len(error_rows),
            "bad_masks": int(bad.sum()), "bad_iou": options.bad_iou, "chosen": options.chosen,
            "suggest_from": options.suggest_from, "scalars": scalars, "maps": maps, "mean_iou_by_click": clicks}


def markdown_tables(summary: dict) -> str:
    """The summary as three Markdown tables (scalars, maps, clicks), best first."""
    lines = [f"{summary['masks']} masks of {summary['objects']} objects, {summary['bad_masks']} with IoU < "
             f"{summary['bad_iou']}", "", "| scalar (higher = less sure) | AUROC, IoU < "
             f"{summary['bad_iou']} | Spearman with 1 − IoU |", "|---|---|---|"]
    ranked = sorted(summary["scalars"].items(), key=lambda item: -np.nan_to_num(item[1]["auroc_bad_mask"]))
    lines += [f"| {name} | {s['auroc_bad_mask']:.3f} | {s['spearman_error']:.3f} |" for name, s in ranked
              if not name.startswith("purview.")]
    lines += ["", "| map | pixel AUROC for the mask's wrong pixels |", "|---|---|"]
    lines += [f"| {name} | {m['pixel_auroc']:.3f} |"
              for name, m in sorted(summary["maps"].items(), key=lambda item: -item[1]["pixel_auroc"])]
    by_click = summary["mean_iou_by_click"]
    titles = {"error": "error-region clicks (placed by the ground truth)",
              "suggested": f"suggested clicks ({summary['suggest_from']}), accepted as suggested",
              "suggested_truth_label": "suggested places, labelled by the ground truth"}
    lines += ["", "| mean IoU after k clicks | " + " | ".join(str(k) for k in range(1, len(by_click["error"]) + 1))
              + " |", "|---|" + "---|" * len(by_click["error"])]
    lines += [f"| {titles[name]} | " + " | ".join(f"{v:.3f}" for v in by_click[name]) + " |" for name in SEQUENCES]
    return "\n".join(lines) + "\n"


def write_outputs(records: EvaluationRecords, summary: dict, out: Path) -> list[Path]:
    """``per_click.csv`` (every row), ``summary.json`` and ``summary.md``, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    names = ["image_id", "sequence", "click", "iou", "chosen"] + _scalar_names(records.rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records.rows)
    written = []
    for name, content in (("per_click.csv", text.getvalue()), ("summary.json", json.dumps(summary, indent=1)),
                          ("summary.md", markdown_tables(summary))):
        atomic_write(out / name, lambda handle, content=content: handle.write(content.encode()))
        written.append(out / name)
    return written


def evaluate_dataset(engine: SamEngine, objects: list[tuple[str, np.ndarray, np.ndarray]],
                     options: EvaluationOptions = EvaluationOptions(),
                     progress: Callable[[int, int], None] = lambda done, total: None) -> tuple[EvaluationRecords, dict]:
    """Evaluate every (image_id, (H, W, 3) image, (H, W) bool truth); returns the records and summary."""
    if options.suggest_from not in MAPS:
        raise ValueError(f"unknown map {options.suggest_from!r}; choose one of {', '.join(MAPS)}")
    records = EvaluationRecords()
    rng = np.random.default_rng(options.seed)
    for done, (image_id, image, truth) in enumerate(objects, start=1):
        evaluate_object(engine, image, truth, image_id, options, records, rng)
        progress(done, len(objects))
    if not records.rows:
        raise ValueError("no object with a non-empty ground truth to evaluate")
    return records, summarise(records, options)
