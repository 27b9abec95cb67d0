"""The sequential strategy: error-region clicking, the interactive-segmentation protocol.

Click 1 is an inclusion click at the object's most interior point; every later click goes to the
centre (most interior point) of the largest error region of the current mask, an inclusion click
in a false-negative region and an exclusion click in a false-positive one
(:mod:`core.prompting.click_simulation`). Each click is a timestep. Clicking stops after
``max_clicks`` clicks, or earlier when the mask equals the ground truth.

Every timestep is decoded as PointPrompt and the app decode: all points so far, multimask output,
no mask input, SAM's first output kept, so these masks and those of the one-shot strategies and of
human sessions are comparable. (:func:`core.analysis.click_protocol.run_click_protocol` decodes as
SAM's own interactive evaluation does instead: best-rated first mask, then single-mask output fed
with the previous logits.) The first timestep holds an inclusion point and no exclusion point,
unlike PointPrompt's human timesteps.
"""

from __future__ import annotations

import numpy as np

from core.io.pointprompt_results import ResultStep
from core.models.embedding_cache import ImageEmbedding
from core.models.sam_engine import SamEngine
from core.prompting.click_simulation import corrective_click, most_interior_point
from core.prompting.metrics import iou


def error_region_steps(engine: SamEngine, embedding: ImageEmbedding, truth: np.ndarray,
                       max_clicks: int = 20) -> list[ResultStep]:
    """Click up to ``max_clicks`` times on the (H, W) bool ``truth`` (non-empty); one
    :class:`ResultStep` (round 0, cumulative (n, 2) / (m, 2) int64 (x, y) points, IoU, mask) per click."""
    points: list[tuple[int, int]] = [most_interior_point(truth)]
    labels: list[int] = [1]
    steps: list[ResultStep] = []
    while True:
        decoded = engine.decode(embedding, np.array(points, np.float64), np.array(labels))
        mask = decoded.masks[0]
        chosen = np.array(points, np.int64).reshape(-1, 2)
        is_inclusion = np.array(labels) == 1
        steps.append(ResultStep(round=0, green=chosen[is_inclusion], red=chosen[~is_inclusion],
                                score=iou(mask, truth), mask=mask))
        if len(points) >= max_clicks:
            return steps
        found = corrective_click(mask, truth)
        if found is None:
            return steps
        points.append(found[0])
        labels.append(found[1])
