"""IoU and Dice against scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score

from core.prompting.metrics import dice, iou


def test_iou_and_dice_equal_scikit_learn(rng):
    for _ in range(5):
        a = rng.uniform(size=(40, 50)) > 0.6
        b = rng.uniform(size=(40, 50)) > 0.4
        assert iou(a, b) == pytest.approx(jaccard_score(b.ravel(), a.ravel()))
        assert dice(a, b) == pytest.approx(f1_score(b.ravel(), a.ravel()))


def test_known_values():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True  # 8 pixels
    b[1:3] = True  # 8 pixels, 4 shared
    assert iou(a, b) == pytest.approx(4 / 12)
    assert dice(a, b) == pytest.approx(8 / 16)


def test_empty_masks_agree_perfectly_and_size_mismatch_is_refused():
    empty = np.zeros((3, 3), bool)
    assert iou(empty, empty) == 1.0 and dice(empty, empty) == 1.0
    assert iou(empty, ~empty) == 0.0
    with pytest.raises(ValueError, match="mask sizes differ"):
        iou(empty, np.zeros((3, 4), bool))


def test_iou_and_dice_in_one_pass_match_the_separate_functions(rng):
    from core.prompting.metrics import dice, iou, iou_and_dice

    for _ in range(5):
        a, b = rng.random((30, 40)) > 0.5, rng.random((30, 40)) > 0.7
        assert iou_and_dice(a, b) == pytest.approx((iou(a, b), dice(a, b)))
    empty = np.zeros((3, 3), bool)
    assert iou_and_dice(empty, empty) == (1.0, 1.0)
