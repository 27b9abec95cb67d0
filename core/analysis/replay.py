"""Replay published prompt sequences: the prompts at each timestep, and their scores under another model.

PointPrompt stores inclusion and exclusion sets separately, so the order of clicks across the
two labels is lost; SAM's decoder treats its point tokens as a set (attention without token
positions), so the order does not change its masks.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.io.pointprompt_results import ImageResults
from core.models.sam_engine import SamEngine
from core.prompting.metrics import iou


def prompts_at(results: ImageResults, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Timestep t's points (N, 2) float (x, y), inclusion first, and labels (N,) (1 inclusion, 0 exclusion)."""
    green, red = results.green[t].reshape(-1, 2), results.red[t].reshape(-1, 2)
    points = np.concatenate([green, red]).astype(np.float64)
    labels = np.concatenate([np.ones(len(green), np.int64), np.zeros(len(red), np.int64)])
    return points, labels


def rerun_scores(engine: SamEngine, image: np.ndarray, truth: np.ndarray, results: ImageResults, output: int = 0,
                 cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
    """IoU against ``truth`` of candidate ``output`` (PointPrompt: 0) for every published timestep.

    image: (H, W, 3) uint8; truth: (H, W) bool. Returns (T,) float64; NaN for a timestep
    without points, and for the rest when ``cancelled()`` turns true.
    """
    embedding = engine.embed(image)
    scores = np.full(len(results), np.nan)
    for t in range(len(results)):
        if cancelled():
            break
        points, labels = prompts_at(results, t)
        if len(points):
            scores[t] = iou(engine.decode(embedding, points, labels).masks[output], truth)
    return scores
