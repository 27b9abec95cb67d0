"""Which clicks hurt: the replay's summary per category, annotator and intervention, and its files.

``summary.csv`` has one row per (category, annotator, intervention), plus "all" rows over
annotators, over categories and over both. With τ = ``hurt_threshold`` (default 0.01 IoU):

    clicks              click × intervention rows (core.analysis.click_attribution)
    mean_delta_final    mean IoU change of the round's final timestep under the intervention
    mean_delta_best     the same at the round's best timestep
    share_final_up      share of clicks whose intervention raises the final IoU by more than τ:
                        for leave_one_out, the clicks that HURT (the mask ends better without them)
    share_final_down    share whose intervention lowers it by more than τ (leave_one_out: clicks
                        that helped)
    share_best_up, share_best_down     the same at the best timestep
    clicks_after_best, share_final_up_after_best    the clicks that came after the round's best
                        timestep, and the share of them whose intervention raises the final IoU
"""

from __future__ import annotations

import numpy as np

SUMMARY_COLUMNS = ("category", "annotator", "intervention", "clicks", "mean_delta_final", "mean_delta_best",
                   "share_final_up", "share_final_down", "share_best_up", "share_best_down", "clicks_after_best",
                   "share_final_up_after_best")
SKIPPED_COLUMNS = ("category", "image_index", "annotator", "reason")
_FIELDS = ("n", "delta_final", "delta_best", "final_up", "final_down", "best_up", "best_down", "after", "after_up")


class ClickSummary:
    """Accumulates click rows (one at a time) into the SUMMARY_COLUMNS table."""

    def __init__(self, hurt_threshold: float = 0.01) -> None:
        self.threshold = hurt_threshold
        self.sums: dict[tuple[str, str, str], np.ndarray] = {}

    def add(self, row: dict) -> None:
        up, threshold = row["delta_final"] > self.threshold, self.threshold
        values = np.array([1, row["delta_final"], row["delta_best"], up, row["delta_final"] < -threshold,
                           row["delta_best"] > threshold, row["delta_best"] < -threshold, row["after_best"],
                           bool(row["after_best"]) and up], np.float64)
        for category in (row["category"], "all"):
            for annotator in (row["annotator"], "all"):
                key = (category, annotator, row["intervention"])
                self.sums[key] = self.sums.get(key, np.zeros(len(_FIELDS))) + values

    def rows(self) -> list[dict]:
        """SUMMARY_COLUMNS rows: categories and annotators sorted, the "all" rows after them."""
        def order(key):
            category, annotator, intervention = key
            return category == "all", category, annotator == "all", annotator, intervention

        rows = []
        for key in sorted(self.sums, key=order):
            s = dict(zip(_FIELDS, self.sums[key]))
            n = s["n"]
            rows.append({"category": key[0], "annotator": key[1], "intervention": key[2], "clicks": int(n),
                         "mean_delta_final": s["delta_final"] / n, "mean_delta_best": s["delta_best"] / n,
                         "share_final_up": s["final_up"] / n, "share_final_down": s["final_down"] / n,
                         "share_best_up": s["best_up"] / n, "share_best_down": s["best_down"] / n,
                         "clicks_after_best": int(s["after"]),
                         "share_final_up_after_best": s["after_up"] / s["after"] if s["after"] else None})
        return rows


def summary_markdown(facts: dict, rows: list[dict]) -> str:
    """summary.md: the facts of the run and the leave-one-out table (which clicks hurt)."""
    lines = ["# Intervention replay", ""] + [f"- {k}: {v}" for k, v in facts.items()] + [""]
    loo = [r for r in rows if r["intervention"] == "leave_one_out"]
    if loo:
        lines += ["## Which clicks hurt (leave-one-out)", "",
                  "A click hurts when the round's final IoU rises by more than the threshold without it.", "",
                  "| category | annotator | clicks | hurt | helped | mean Δ final | after best | hurt after best |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in loo:
            after = "" if r["share_final_up_after_best"] is None else f"{r['share_final_up_after_best']:.1%}"
            lines.append(f"| {r['category']} | {r['annotator']} | {r['clicks']} | {r['share_final_up']:.1%} | "
                         f"{r['share_final_down']:.1%} | {r['mean_delta_final']:+.4f} | {r['clicks_after_best']} | "
                         f"{after} |")
        lines.append("")
    others = sorted({r["intervention"] for r in rows} - {"leave_one_out"})
    if others:
        lines += ["## Other interventions (all categories and annotators)", "",
                  "| intervention | clicks | mean Δ final | mean Δ best | final up | final down |", "|---|---|---|---|---|---|"]
        for r in rows:
            if r["intervention"] in others and r["category"] == "all" and r["annotator"] == "all":
                lines.append(f"| {r['intervention']} | {r['clicks']} | {r['mean_delta_final']:+.4f} | "
                             f"{r['mean_delta_best']:+.4f} | {r['share_final_up']:.1%} | {r['share_final_down']:.1%} |")
        lines.append("")
    return "\n".join(lines)
