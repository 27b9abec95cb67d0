"""The standard interactive-segmentation protocol, run against a :class:`SamEngine`.

Click 1 is an inclusion click at the object's most interior point, decoded with multimask
output; the mask kept is the one SAM rates best (its predicted IoU). Each later click goes to
the centre of the largest error region (core.prompting.click_simulation), is decoded with
all points so far, single-mask output and the previous low-res logits as mask input, as SAM's
own interactive evaluation does. The first multimask output (PointPrompt's choice) is recorded
beside the best-rated one for click 1.
"""

from __future__ import annotations

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


def run_click_protocol(engine: SamEngine, embedding: ImageEmbedding, truth: np.ndarray, max_clicks: int = 3) -> ProtocolRun:
    """Run up to ``max_clicks`` clicks on one (H, W) bool ground truth; stops early when exact."""
    run = ProtocolRun()
    run.points.append(most_interior_point(truth))
    run.labels.append(1)
    decoded = engine.decode(embedding, np.array(run.points), np.array(run.labels), multimask_output=True)
    best = int(np.argmax(decoded.predicted_iou))
    mask, logits = decoded.masks[best], decoded.low_res_logits[best : best + 1]
    run.first_output_iou = iou(decoded.masks[0], truth)
    run.ious.append(iou(mask, truth))
    while len(run.ious) < max_clicks:
        found = corrective_click(mask, truth)
        if found is None:
            run.ious.append(run.ious[-1])
            continue
        point, label = found
        run.points.append(point)
        run.labels.append(label)
        decoded = engine.decode(embedding, np.array(run.points), np.array(run.labels), logits, multimask_output=False)
        mask, logits = decoded.masks[0], decoded.low_res_logits[0:1]
        run.ious.append(iou(mask, truth))
    return run
