"""The simulated-click protocol."""

from __future__ import annotations

import numpy as np
import pytest

from core.prompting.click_simulation import corrective_click, most_interior_point, random_interior_point


def disc(height, width, cx, cy, r):
    yy, xx = np.mgrid[:height, :width]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r**2


def test_most_interior_point_is_the_centre_of_a_disc_in_x_y_order():
    assert most_interior_point(disc(50, 80, 60, 20, 9)) == (60, 20)


def test_image_border_counts_as_outside():
    mask = np.zeros((20, 40), bool)
    mask[:, :10] = True  # touches the left, top and bottom borders
    x, y = most_interior_point(mask)
    assert 4 <= x <= 5 and 4 <= y <= 15  # 5 px from the left border and the image edge x = 10


def test_corrective_click_targets_the_larger_error():
    truth = disc(60, 60, 20, 30, 12)
    prediction = disc(60, 60, 20, 30, 12) | disc(60, 60, 48, 30, 6)  # extra blob: false positive
    (x, y), label = corrective_click(prediction, truth)
    assert label == 0 and (x, y) == (48, 30)
    prediction = truth & ~disc(60, 60, 20, 30, 7)  # a hole: false negative
    (x, y), label = corrective_click(prediction, truth)
    assert label == 1 and (x, y) == (20, 30)


def test_exact_prediction_needs_no_click_and_empty_mask_raises(rng):
    truth = disc(30, 30, 15, 15, 5)
    assert corrective_click(truth, truth) is None
    with pytest.raises(ValueError, match="empty"):
        most_interior_point(np.zeros((5, 5), bool))
    x, y = random_interior_point(rng, truth, min_depth=2)
    assert truth[y, x]
