"""NoC@k: the number of clicks needed to reach an IoU, the interactive-segmentation measure.

For one object, NoC@τ is the number of clicks (points) of the first timestep whose IoU is at
least τ; an object that never gets there counts as ``cap`` (the standard protocol caps at its
click limit, 20 by convention) and as a failure. Reported per set of objects: the mean NoC with
failures counted as ``cap``, and the share of objects that failed. The same definition applies to
any recorded sequence, counting the points present at each timestep (so a one-shot strategy's
NoC is its number of points at the first prefix that reaches τ, capped at its whole budget).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def clicks_to_reach(ious: Sequence[float], clicks: Sequence[int], threshold: float, cap: int) -> tuple[int, bool]:
    """(NoC, reached) for one object: ``ious[t]`` the IoU at timestep t with ``clicks[t]`` points.

    NoC is ``clicks[t]`` of the first t with IoU >= ``threshold`` (NaN never counts), else ``cap``.
    """
    for score, count in zip(ious, clicks):
        if np.isfinite(score) and score >= threshold:
            return int(count), True
    return int(cap), False


def noc_summary(nocs: Sequence[tuple[int, bool]]) -> dict[str, float]:
    """{"mean": mean NoC (failures at their cap), "failed": share that never reached} (NaN for none)."""
    if not nocs:
        return {"mean": float("nan"), "failed": float("nan")}
    return {"mean": float(np.mean([n for n, _ in nocs])), "failed": float(np.mean([not r for _, r in nocs]))}
