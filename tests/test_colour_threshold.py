"""The colour-threshold baseline of the tiny-SAM evaluation."""

from __future__ import annotations

import numpy as np

from core.analysis.colour_threshold import colour_threshold_mask


def _two_squares() -> np.ndarray:
    image = np.full((60, 80, 3), 200, np.uint8)
    image[10:30, 10:30] = (200, 30, 30)
    image[10:30, 50:70] = (200, 30, 30)  # same colour, not connected
    return image


def test_flood_takes_the_connected_region_of_the_clicked_colour_only():
    mask = colour_threshold_mask(_two_squares(), np.array([[20, 20]]), np.array([1]), tolerance=130)
    assert mask[10:30, 10:30].all() and not mask[10:30, 50:70].any() and mask.sum() == 400


def test_second_inclusion_click_adds_and_same_colour_exclusion_splits():
    image = _two_squares()
    both = colour_threshold_mask(image, np.array([[20, 20], [60, 20]]), np.array([1, 1]), tolerance=130)
    assert both.sum() == 800
    image[10:30, 30:50] = (200, 30, 30)  # join the squares into one bar
    split = colour_threshold_mask(image, np.array([[15, 20], [65, 20]]), np.array([1, 0]), tolerance=130)
    assert split[:, :40].sum() == 600 and not split[:, 41:].any()


def test_a_later_flood_into_most_of_the_image_is_ignored():
    image = _two_squares()
    mask = colour_threshold_mask(image, np.array([[20, 20], [2, 2]]), np.array([1, 1]), tolerance=130)
    assert mask.sum() == 400
