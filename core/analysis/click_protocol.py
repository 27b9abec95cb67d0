"""The standard interactive-segmentation protocol, run against a :class:`SamEngine`.

Click 1 is an inclusion click at the object's most interior point, decoded with multimask
output; the mask kept is the one SAM rates best (its predicted IoU). Each later click goes to
the centre of the largest error region (core.prompting.click_simulation), is decoded with
all points so far, single-mask output and the previous low-res logits as mask input, as SAM's
own interactive evaluation does. The first multimask output (PointPrompt's choice) is recorded
beside the best-rated one for click 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.models.sam_engine import SamEngine
from core.models.embedding_cache import ImageEmbedding
from core.prompting.click_simulation import corrective_click, most_interior_point
from core.prompting.metrics import iou


@dataclass
class ProtocolRun:
    """One object's run: IoU after each click, and the clicks themselves.

    ious[k]: IoU after k + 1 clicks. points: (n, 2) (x, y); labels: (n,) 1/0.
    first_output_iou: IoU of the first multimask output after click 1 (PointPrompt's mask).
    """

    ious: list[float] = field(default_factory=list)
    points: list[tuple[int, int]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    first_output_iou: float = float("nan")


def follow_click_protocol(truth: np.ndarray, max_clicks: int,
                          segment: Callable[[list[tuple[int, int]], list[int]], np.ndarray]) -> ProtocolRun:
    """The clicks of the protocol for any segmenter: ``segment(points, labels)`` returns the
    (H, W) bool mask for all clicks so far (points (x, y), labels 1/0) and is called once per
    click. A click that finds no error repeats the previous IoU."""
    run = ProtocolRun(points=[most_interior_point(truth)], labels=[1])
    mask = segment(run.points, run.labels)
    run.ious.append(iou(mask, truth))
    while len(run.ious) < max_clicks:
        found = corrective_click(mask, truth)
        if found is None:
            run.ious.append(run.ious[-1])
            continue
        run.points.append(found[0])
        run.labels.append(found[1])
        mask = segment(run.points, run.labels)
        run.ious.append(iou(mask, truth))
    return run


def run_click_protocol(engine: SamEngine, embedding: ImageEmbedding, truth: np.ndarray, max_clicks: int = 3) -> ProtocolRun:
    """Run up to ``max_clicks`` clicks of SAM on one (H, W) bool ground truth."""
    previous = {}  # the last decode's low-res logits, and the first decode's first output

    def segment(points: list[tuple[int, int]], labels: list[int]) -> np.ndarray:
        first = "logits" not in previous
        decoded = engine.decode(embedding, np.array(points), np.array(labels), previous.get("logits"),
                                multimask_output=first)
        pick = int(np.argmax(decoded.predicted_iou)) if first else 0
        if first:
            previous["first_output"] = decoded.masks[0]
        previous["logits"] = decoded.low_res_logits[pick : pick + 1]
        return decoded.masks[pick]

    run = follow_click_protocol(truth, max_clicks, segment)
    run.first_output_iou = iou(previous["first_output"], truth)
    return run
