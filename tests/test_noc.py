"""NoC@85 / NoC@90 on hand-made cases, and the error-region protocol against a scripted model."""

from __future__ import annotations

import numpy as np

from core.analysis.auto_prompt_summary import image_record, summarise
from core.analysis.error_region_clicking import error_region_steps
from core.analysis.noc import clicks_to_reach, noc_summary
from core.io.pointprompt_results import read_image_results, write_image_results
from core.models.sam_engine import Decoded


def test_clicks_to_reach_counts_the_first_timestep_at_the_threshold():
    ious, clicks = [0.5, 0.86, 0.8, 0.91], [1, 2, 3, 4]
    assert clicks_to_reach(ious, clicks, 0.85, cap=20) == (2, True)
    assert clicks_to_reach(ious, clicks, 0.90, cap=20) == (4, True)
    assert clicks_to_reach(ious, clicks, 0.95, cap=20) == (20, False)  # never: the cap, a failure
    assert clicks_to_reach([float("nan"), 0.9], [2, 3], 0.85, cap=10) == (3, True)
    assert noc_summary([(2, True), (20, False), (4, True), (6, True)]) == {"mean": 8.0, "failed": 0.25}
    assert np.isnan(noc_summary([])["mean"])


class ScriptedEngine:
    """Answers the k-th decode with the k-th scripted mask as SAM's first output; records the prompts."""

    def __init__(self, masks):
        self.masks, self.calls = masks, []

    def decode(self, embedding, points, labels, mask_input=None, multimask_output=True):
        self.calls.append((np.array(points), np.array(labels)))
        mask = self.masks[min(len(self.calls), len(self.masks)) - 1]
        return Decoded(np.stack([mask, ~mask, mask]), np.zeros((3, 4, 4), np.float32), np.zeros(3, np.float32))


def _square(size, top, left, side):
    mask = np.zeros((size, size), bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_error_region_clicks_at_the_largest_error_and_noc_follows(tmp_path):
    truth = _square(40, 10, 10, 20)  # 400 px
    too_big = truth.copy()
    too_big[10:30, 30:36] = True  # + 120 px false positive beside it: IoU 400/520 = 0.769
    close = truth & ~_square(40, 10, 10, 2)  # 396 of 400: IoU 0.99
    engine = ScriptedEngine([too_big, close])
    steps = error_region_steps(engine, None, truth, max_clicks=5)
    assert [round(s.score, 3) for s in steps] == [0.769, 0.99, 0.99, 0.99, 0.99]
    x, y = engine.calls[1][0][1].astype(int)
    # click 2: an exclusion click on the false positive
    assert engine.calls[1][1].tolist() == [1, 0] and too_big[y, x] and not truth[y, x]
    assert engine.calls[0][0].tolist() == [[19, 19]] or engine.calls[0][0].tolist() == [[20, 20]]  # most interior
    assert [len(s.green) + len(s.red) for s in steps] == [1, 2, 3, 4, 5]
    write_image_results(tmp_path, 0, steps)
    record = image_record("error_region", "square", read_image_results(tmp_path, 0), cap=5)
    assert (record["noc85"], record["reached85"], record["noc90"], record["reached90"]) == (2, True, 2, True)
    assert record["first_iou"] == steps[0].score and record["points_best"] == 2

    never = error_region_steps(ScriptedEngine([too_big]), None, truth, max_clicks=3)
    write_image_results(tmp_path, 1, never)
    failed = image_record("error_region", "square", read_image_results(tmp_path, 1), cap=20)
    assert (failed["noc85"], failed["reached85"]) == (20, False)
    stats = summarise([record, failed])
    assert stats["noc85"] == 11.0 and stats["failed85"] == 0.5 and stats["images"] == 2


def test_error_region_stops_when_the_mask_is_exact():
    truth = _square(30, 5, 5, 10)
    steps = error_region_steps(ScriptedEngine([truth]), None, truth, max_clicks=20)
    assert len(steps) == 1 and steps[0].score == 1.0 and len(steps[0].red) == 0
