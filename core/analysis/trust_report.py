"""Summary of a trust evaluation: the metrics per score and set, and the Markdown tables.

Input rows (one per evaluated image variant) carry ``set`` (``clean``, ``ood`` or
``<corruption>-<level>``), ``label``, ``prediction`` and every score. Metrics come from
core.analysis.trust_metrics, with each score turned into trust by
core.gradients.trust_scores.as_trust. Percentages in the tables; the JSON keeps fractions.
"""

from __future__ import annotations

import math

import numpy as np

from core.analysis import trust_metrics
from core.analysis.corruptions import LEVELS
from core.gradients.trust_scores import SCORES, as_trust

NAN = float("nan")


def _column(rows: list[dict], name: str) -> np.ndarray:
    return np.array([row.get(name, NAN) for row in rows], np.float64)


def misprediction_metrics(rows: list[dict], scores: list[str], points: int | None, seed: int) -> dict:
    """Accuracy, and per score AUAC / AUFC / AURC / misprediction AUROC, of one set's rows."""
    labels = np.array([row["label"] for row in rows])
    predictions = np.array([row["prediction"] for row in rows])
    correct = labels == predictions
    out = {"images": len(rows), "accuracy": float(correct.mean()), "errors": int((~correct).sum()), "scores": {}}
    for name in scores:
        trust = as_trust(name, _column(rows, name))
        if np.isnan(trust).any():
            out["scores"][name] = {"auac": NAN, "aufc": NAN, "aurc": NAN, "auroc_misprediction": NAN}
            continue
        curve = trust_metrics.rejection_curve(trust, labels, predictions, points, seed)
        out["scores"][name] = {"auac": curve.auac, "aufc": curve.aufc, "aurc": curve.aurc,
                               "auroc_misprediction": trust_metrics.misprediction_auroc(trust, correct)}
    return out


def detection(clean: list[dict], other: list[dict], scores: list[str]) -> dict:
    """Per score, the detection metrics of clean (positive) against ``other`` rows."""
    return {name: trust_metrics.detection_metrics(as_trust(name, _column(clean, name)),
                                                   as_trust(name, _column(other, name))) for name in scores}


def summarise(rows: list[dict], scores: list[str], corruptions: tuple[str, ...], points: int | None = 100,
              seed: int = 0) -> dict:
    """The metrics of every set: ``clean``, ``ood`` (or None), ``corruptions[name][level]``."""
    by_set: dict[str, list[dict]] = {}
    for row in rows:
        by_set.setdefault(row["set"], []).append(row)
    clean = by_set.get("clean", [])
    summary = {"orientation": {name: "higher = trust more" if SCORES[name].higher_is_trust else "higher = less sure"
                               for name in scores},
               "grid": (f"retained counts k_i = ceil(i*N/{points}), i = 1..{points} (every k when N <= {points})"
                        if points else "every retained count k = 1..N"),
               "clean": misprediction_metrics(clean, scores, points, seed), "ood": None, "corruptions": {}}
    if by_set.get("ood"):
        summary["ood"] = {"images": len(by_set["ood"]), "scores": detection(clean, by_set["ood"], scores)}
    for name in corruptions:
        summary["corruptions"][name] = {}
        for level in range(1, LEVELS + 1):
            corrupted = by_set.get(f"{name}-{level}", [])
            if corrupted:
                entry = misprediction_metrics(corrupted, scores, points, seed)
                entry["detection"] = detection(clean, corrupted, scores)
                summary["corruptions"][name][str(level)] = entry
    return summary


def _pct(value: float, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.{digits}f}"


def _bold_best(cells: list[str], values: list[float], higher_is_better: bool = True) -> list[str]:
    finite = [v if higher_is_better else -v for v in values if not math.isnan(v)]
    if not finite:
        return cells
    best = max(finite)
    return [f"**{cell}**" if not math.isnan(v) and (v if higher_is_better else -v) == best else cell
            for cell, v in zip(cells, values)]


def _clean_table(summary: dict, scores: list[str]) -> list[str]:
    clean = summary["clean"]
    lines = [f"### Misprediction detection, clean images ({clean['images']} images, accuracy "
             f"{_pct(clean['accuracy'])} %, {clean['errors']} errors)", "",
             "| score | higher means | AUAC | AUFC | AUROC (misprediction) |", "|---|---|---|---|---|"]
    columns = {key: [clean["scores"][name][key] for name in scores] for key in ("auac", "aufc", "auroc_misprediction")}
    cells = {key: _bold_best([_pct(v) for v in values], values) for key, values in columns.items()}
    for i, name in enumerate(scores):
        lines.append(f"| {SCORES[name].label} | {'trust' if SCORES[name].higher_is_trust else 'less sure'} | "
                     f"{cells['auac'][i]} | {cells['aufc'][i]} | {cells['auroc_misprediction'][i]} |")
    return lines


def _baselines_table(summary: dict, scores: list[str]) -> list[str]:
    lines = ["### Trust scores against baselines, clean and corrupted (AUAC, %)", "",
             "| set | accuracy | " + " | ".join(SCORES[name].label for name in scores) + " |",
             "|---|---|" + "---|" * len(scores)]
    sets = [("clean", summary["clean"])] + [(f"{name} {level}", entry) for name, levels in
                                            summary["corruptions"].items() for level, entry in levels.items()]
    for title, entry in sets:
        values = [entry["scores"][name]["auac"] for name in scores]
        lines.append(f"| {title} | {_pct(entry['accuracy'])} | " + " | ".join(_bold_best([_pct(v) for v in values],
                                                                                       values)) + " |")
    return lines


def _ood_table(summary: dict, scores: list[str]) -> list[str]:
    ood = summary["ood"]
    lines = [f"### OOD detection ({summary['clean']['images']} clean vs {ood['images']} OOD images, %)", "",
             "| score | AUROC | AUPR-In | AUPR-Out | FPR at 95 % TPR (lower is better) | detection accuracy |",
             "|---|---|---|---|---|---|"]
    keys = ("auroc", "aupr_in", "aupr_out", "fpr95", "detection_accuracy")
    cells = {key: _bold_best([_pct(ood["scores"][n][key]) for n in scores], [ood["scores"][n][key] for n in scores],
                             key != "fpr95") for key in keys}
    for i, name in enumerate(scores):
        lines.append(f"| {SCORES[name].label} | " + " | ".join(cells[key][i] for key in keys) + " |")
    return lines


def _corruption_table(summary: dict, name: str, scores: list[str]) -> list[str]:
    levels = summary["corruptions"][name]
    lines = [f"### Detecting {name} (clean vs corrupted; AUROC / AUPR-In / FPR@95 / detection accuracy, %)", "",
             "| score | " + " | ".join(f"level {level}" for level in levels) + " |", "|---|" + "---|" * len(levels)]
    for score in scores:
        cells = []
        for entry in levels.values():
            metrics = entry["detection"][score]
            keys = ("auroc", "aupr_in", "fpr95", "detection_accuracy")
            cells.append(" / ".join(_pct(metrics[key], 1) for key in keys))
        lines.append(f"| {SCORES[score].label} | " + " | ".join(cells) + " |")
    return lines


def markdown_tables(summary: dict) -> str:
    """The summary as Markdown: clean misprediction, AUAC clean vs corrupted, OOD and corruption detection."""
    scores = list(summary["orientation"])
    lines = [f"## Trust evaluation: {summary.get('classifier', 'classifier')}", "",
             f"Rejection grid: {summary['grid']}; AUAC / AUFC are the means of accuracy / macro-F1 over it "
             "(AUAC = 1 − AURC).", ""]
    lines += _clean_table(summary, scores) + [""] + _baselines_table(summary, scores)
    if summary.get("ood"):
        lines += [""] + _ood_table(summary, scores)
    for name, levels in summary["corruptions"].items():
        if levels:
            lines += [""] + _corruption_table(summary, name, scores)
    notes = summary.get("notes", [])
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
