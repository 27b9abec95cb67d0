"""Over-prompting: is the current mask worse than the best one of this round?

PointPrompt's finding is that annotators keep adding points after the best mask and make it
worse. The app warns when the latest timestep's IoU is more than ``threshold`` below the best
IoU reached earlier in the same round (a new round starts from scratch, so it compares only
within the round, as the lab's collection tool did).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OverPromptingStatus:
    """best_index: timestep index (into the full list) of the round's best IoU, or None;
    gap: best − current (0 when no scores); warn: gap > threshold."""

    best_index: int | None
    best_iou: float | None
    current_iou: float | None
    gap: float
    warn: bool


def best_index(ious: list[float | None], rounds: list[int], round_: int | None = None) -> int | None:
    """Index of the highest IoU (of round ``round_``, or of all), the earliest on ties; None when
    nothing is scored. ious and rounds: one entry per timestep, in time order. The one statement
    of PointPrompt's best timestep (its sorts/ files), for the warning, the session and export."""
    scored = [(value, -t) for t, (value, r) in enumerate(zip(ious, rounds))
              if value is not None and (round_ is None or r == round_)]
    return -max(scored)[1] if scored else None


def over_prompting_status(ious: list[float | None], rounds: list[int], threshold: float = 0.05) -> OverPromptingStatus:
    """Status of the latest timestep. ious and rounds: one entry per timestep, in time order."""
    if not ious or ious[-1] is None:
        return OverPromptingStatus(None, None, None, 0.0, False)
    best = best_index(ious, rounds, rounds[-1])
    gap = ious[best] - ious[-1]
    return OverPromptingStatus(best, ious[best], ious[-1], gap, gap > threshold)
