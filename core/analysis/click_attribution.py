"""Attribute IoU changes to clicks: the rows of a replay, per timestep and per click × intervention.

For a round with timesteps t_0 … t_L (L its final timestep) and replayed IoUs s_t (the recorded
sets through the replay model), the round's best timestep b is the highest s_t, the earliest on
ties (:func:`core.analysis.over_prompting.best_index`). For a click k of that round and an
intervention v (:mod:`core.analysis.interventions`), with v(S_t) the set at t under v:

    delta_final = IoU(v(S_L)) − s_L        delta_best = IoU(v(S_b)) − s_b

A positive delta means the intervened sequence ends (or peaks) higher: for ``leave_one_out``,
the click hurt. A click absent from S_L (removed earlier) leaves S_L as recorded: delta_final 0.
``after_best``: the click appeared after b (PointPrompt's over-prompting clicks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.analysis.click_tracking import INCLUSION, TrackedSequence
from core.analysis.interventions import BoundaryGeometry, PromptSet, intervened_set, reorder_partner
from core.analysis.over_prompting import best_index

TIMESTEP_COLUMNS = ("category", "annotator", "image_index", "timestep", "round", "n_inclusion", "n_exclusion",
                    "change", "clicks_added", "iou_recorded", "iou_replayed", "iou_difference", "is_best", "is_final")
CLICK_COLUMNS = ("category", "annotator", "image_index", "round", "click", "label", "x", "y", "first_timestep",
                 "last_timestep", "removed_at", "moves", "after_best", "final_timestep", "best_timestep", "iou_final",
                 "iou_best", "intervention", "iou_final_intervened", "delta_final", "iou_best_intervened",
                 "delta_best", "shift_px", "partner")


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def round_ends(sequence: TrackedSequence, ious: np.ndarray) -> dict[int, tuple[int, int]]:
    """{round: (final timestep L, best timestep b)} from the replayed IoUs (T,)."""
    ends = {}
    for round_ in dict.fromkeys(int(r) for r in sequence.rounds):
        steps = sequence.round_timesteps(round_)
        best = best_index([float(ious[t]) for t in steps], [0] * len(steps))
        ends[round_] = (steps[-1], steps[best if best is not None else -1])
    return ends


def timestep_rows(sequence: TrackedSequence, recorded: np.ndarray, replayed: np.ndarray,
                  where: dict) -> list[dict]:
    """TIMESTEP_COLUMNS rows; recorded, replayed: (T,) IoUs; where: category, annotator, image_index."""
    ends = round_ends(sequence, replayed)
    rows = []
    for t in range(len(sequence)):
        final, best = ends[int(sequence.rounds[t])]
        old, new = _number(recorded[t]), _number(replayed[t])
        rows.append({**where, "timestep": t, "round": int(sequence.rounds[t]), "n_inclusion": len(sequence.green[t]),
                     "n_exclusion": len(sequence.red[t]), "change": sequence.changes[t],
                     "clicks_added": " ".join(map(str, sequence.added_at(t))), "iou_recorded": old,
                     "iou_replayed": new, "iou_difference": None if old is None or new is None else new - old,
                     "is_best": int(t == best), "is_final": int(t == final)})
    return rows


def click_sets(sequence: TrackedSequence, replayed: np.ndarray, interventions: tuple[str, ...],
               geometry: BoundaryGeometry | None) -> list[tuple[int, str, PromptSet, PromptSet]]:
    """(click, intervention, set at L, set at b) for every click and intervention that exists for it."""
    ends = round_ends(sequence, replayed)
    out = []
    for click in sequence.clicks:
        final, best = ends[click.round]
        for kind in interventions:
            at_final = intervened_set(sequence, kind, click.id, final, geometry)
            if at_final is None:
                continue
            out.append((click.id, kind, at_final, intervened_set(sequence, kind, click.id, best, geometry)))
    return out


def click_rows(sequence: TrackedSequence, replayed: np.ndarray, sets: list[tuple[int, str, PromptSet, PromptSet]],
               geometry: BoundaryGeometry | None, score: Callable[[PromptSet], float], where: dict) -> list[dict]:
    """CLICK_COLUMNS rows, one per entry of ``sets`` (:func:`click_sets`); ``score(set)`` is the
    set's replayed IoU (decoded beforehand)."""
    ends = round_ends(sequence, replayed)
    rows = []
    for click_id, kind, at_final, at_best in sets:
        click = sequence.clicks[click_id]
        final, best = ends[click.round]
        x, y = sequence.position(click_id, click.first)
        shift = None
        if kind.startswith("move_") and geometry is not None:
            mx, my = geometry.move(x, y, kind[len("move_"):])
            shift = float(np.hypot(mx - x, my - y))
        new_final, new_best = score(at_final), score(at_best)
        rows.append({**where, "round": click.round, "click": click_id,
                     "label": "inclusion" if click.label == INCLUSION else "exclusion", "x": x, "y": y,
                     "first_timestep": click.first, "last_timestep": click.last, "removed_at": click.removed,
                     "moves": len(click.moved), "after_best": int(click.first > best), "final_timestep": final,
                     "best_timestep": best, "iou_final": float(replayed[final]), "iou_best": float(replayed[best]),
                     "intervention": kind, "iou_final_intervened": new_final,
                     "delta_final": new_final - float(replayed[final]), "iou_best_intervened": new_best,
                     "delta_best": new_best - float(replayed[best]), "shift_px": shift,
                     "partner": reorder_partner(sequence, click_id) if kind == "reorder" else None})
    return rows
