"""Summaries of the per-round rows of core.analysis.prompt_analysis: per category and annotator.

One row per (category, annotator); a (category, "all") row for a category with more than one
annotator, and an ("all", "all") row when there is more than one group. Means are over the
rounds (image × annotator × round) that have the value; a round counts as over-prompted when
best − last IoU exceeds the threshold it was analysed with.
"""

from __future__ import annotations

import numpy as np

SUMMARY_COLUMNS = ("category", "annotator", "images", "rounds", "timesteps", "mean_first_iou", "mean_best_iou",
                   "mean_last_iou", "mean_best_minus_first", "mean_best_minus_last", "median_best_minus_last",
                   "over_prompted_share", "mean_timesteps_after_best", "mean_n_inclusion_best",
                   "mean_n_exclusion_best", "mean_time_to_best_s", "iou_differs")
_MEANS = {"mean_first_iou": "first_iou", "mean_best_iou": "best_iou", "mean_last_iou": "last_iou",
          "mean_best_minus_first": "best_minus_first", "mean_best_minus_last": "best_minus_last",
          "over_prompted_share": "over_prompted", "mean_timesteps_after_best": "timesteps_after_best",
          "mean_n_inclusion_best": "n_inclusion_best", "mean_n_exclusion_best": "n_exclusion_best",
          "mean_time_to_best_s": "time_to_best_s"}


def _values(rows: list[dict], key: str) -> np.ndarray:
    values = [row[key] for row in rows if row.get(key) is not None]
    array = np.array(values, dtype=np.float64)
    return array[np.isfinite(array)]


def summary_row(category: str, annotator: str, rows: list[dict]) -> dict:
    """SUMMARY_COLUMNS over one group of ROUND_COLUMNS rows (None where no round has the value)."""
    out = {"category": category, "annotator": annotator,
           "images": len({(r["category"], r["image_index"]) for r in rows}), "rounds": len(rows),
           "timesteps": int(sum(r["timesteps"] for r in rows))}
    for column, key in _MEANS.items():
        values = _values(rows, key)
        out[column] = float(values.mean()) if values.size else None
    losses = _values(rows, "best_minus_last")
    out["median_best_minus_last"] = float(np.median(losses)) if losses.size else None
    out["iou_differs"] = int(_values(rows, "iou_differs").sum())
    return out


def summarise(rows: list[dict]) -> list[dict]:
    """Summary rows (see the module docstring) of ROUND_COLUMNS rows, categories and annotators sorted."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["category"], row["annotator"]), []).append(row)
    out = []
    for category in sorted({c for c, _ in groups}):
        annotators = sorted(a for c, a in groups if c == category)
        out.extend(summary_row(category, a, groups[(category, a)]) for a in annotators)
        if len(annotators) > 1:
            out.append(summary_row(category, "all", [r for a in annotators for r in groups[(category, a)]]))
    if len(groups) > 1:
        out.append(summary_row("all", "all", rows))
    return out


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_markdown(summary: list[dict], facts: dict, skipped: list[dict], plots: list[str]) -> str:
    """summary.md: what was analysed (``facts``: results, dataset, logs, counts), the summary
    table, the skipped files by reason, and the plots."""
    shown = ("category", "annotator", "images", "rounds", "timesteps", "mean_first_iou", "mean_best_iou",
             "mean_last_iou", "mean_best_minus_last", "over_prompted_share", "mean_timesteps_after_best",
             "mean_time_to_best_s", "iou_differs")
    lines = ["# Prompting results: over-prompting analysis", ""]
    lines += [f"- {key}: {value}" for key, value in facts.items()]
    lines += ["", "Per category and annotator (means over rounds; IoU as analysed: the recorded score, or the "
              "recomputed one where none was recorded; over-prompted: best − last IoU above the threshold):", ""]
    lines += ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in shown) + " |" for row in summary]
    lines += ["", f"Skipped: {len(skipped)} (skipped.csv names each file, why, and what was left out)."]
    reasons: dict[str, int] = {}
    for row in skipped:
        reasons[row["effect"]] = reasons.get(row["effect"], 0) + 1
    lines += [f"- {count} × {effect}" for effect, count in sorted(reasons.items())]
    lines += ["", "Plots: " + (", ".join(f"plots/{name}" for name in plots) if plots else "none"), ""]
    return "\n".join(lines)
