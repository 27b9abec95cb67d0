"""The paper's prompt features on a hand-computed case: a 10×10 square object in a 40×30 image.

The object covers columns 10..19 and rows 10..19 (x, y in 10..19): 100 pixels. Its diameter is
the distance between the centres of opposite corner pixels, 9·√2; the image diagonal is
√(30² + 40²) = 50.
"""

import math

import numpy as np
import pytest

from core.analysis.prompt_features import (
    PROMPT_FEATURES,
    chamfer_distance,
    convex_hull,
    exclusion_encasing,
    exclusion_spread,
    image_diagonal,
    inclusion_efficiency,
    inclusion_encasing,
    mask_diameter,
    max_spread,
    nn_distance,
    prompt_coverage,
    prompt_features,
    truth_geometry,
)

H, W = 30, 40
DIAMETER = 9 * math.sqrt(2)
DIAGONAL = 50.0
LEFT_HALF = np.array([[10, 10], [14, 10], [14, 19], [10, 19]], float)  # (x, y): hull = columns 10..14
EXCLUSION = np.array([[5, 14], [25, 14]], float)  # 5 px left of column 10, 6 px right of column 19


@pytest.fixture
def square():
    truth = np.zeros((H, W), bool)
    truth[10:20, 10:20] = True
    return truth


def test_lengths(square):
    assert mask_diameter(square) == pytest.approx(DIAMETER)
    assert image_diagonal(square.shape) == DIAGONAL
    one = np.zeros((H, W), bool)
    one[3, 4] = True
    assert mask_diameter(one) == 0.0
    assert math.isnan(mask_diameter(np.zeros((H, W), bool)))


def test_coverage_is_the_share_of_object_pixel_centres_in_the_hull(square):
    assert prompt_coverage(LEFT_HALF, square) == 0.5  # columns 10..14 of 10..19, hull edges included
    triangle = np.array([[10, 10], [19, 10], [10, 19]], float)  # x + y ≤ 29: 10 + 9 + … + 1 = 55 pixels
    assert prompt_coverage(triangle, square) == pytest.approx(0.55)
    around = np.array([[0, 0], [39, 0], [39, 29], [0, 29]], float)
    assert prompt_coverage(around, square) == 1.0
    assert prompt_coverage(LEFT_HALF[:2], square) == 0.0  # fewer than 3 points
    assert prompt_coverage(np.array([[10, 10], [12, 12], [15, 15]], float), square) == 0.0  # collinear
    assert prompt_coverage(np.array([[10, 10], [10, 10], [10, 10], [11, 11]], float), square) == 0.0  # duplicates
    assert math.isnan(prompt_coverage(LEFT_HALF, np.zeros((H, W), bool)))


def test_hull_drops_inner_and_collinear_points():
    points = np.array([[0, 0], [4, 0], [4, 4], [0, 4], [2, 2], [2, 0]], float)
    assert sorted(map(tuple, convex_hull(points).tolist())) == [(0, 0), (0, 4), (4, 0), (4, 4)]
    assert len(convex_hull(np.array([[0, 0], [1, 1], [2, 2]], float))) == 2


def test_spread_and_nearest_neighbour(square):
    assert max_spread(LEFT_HALF, DIAMETER) == pytest.approx(math.hypot(4, 9) / DIAMETER)
    assert nn_distance(LEFT_HALF, DIAMETER) == pytest.approx(4 / DIAMETER)  # every corner's nearest is 4 px away
    three = np.array([[0, 0], [3, 0], [3, 10]], float)  # nearest: 3, 3, 10
    assert nn_distance(three, 2.0) == pytest.approx((3 + 3 + 10) / 3 / 2)
    assert max_spread(LEFT_HALF[:1], DIAMETER) == 0.0 and nn_distance(LEFT_HALF[:1], DIAMETER) == 0.0
    assert math.isnan(max_spread(np.zeros((0, 2)), DIAMETER)) and math.isnan(nn_distance(np.zeros((0, 2)), DIAMETER))
    assert math.isnan(max_spread(LEFT_HALF, 0.0))  # a one-pixel object has no diameter to divide by


def test_chamfer_and_exclusion_spread():
    nearest_exclusion = [math.hypot(5, 4), math.hypot(9, 4), math.hypot(9, 5), math.hypot(5, 5)]
    nearest_inclusion = [math.hypot(5, 4), math.hypot(11, 4)]
    expected = (np.mean(nearest_exclusion) + np.mean(nearest_inclusion)) / 2 / DIAGONAL
    assert chamfer_distance(LEFT_HALF, EXCLUSION, DIAGONAL) == pytest.approx(expected)
    assert exclusion_spread(EXCLUSION, DIAGONAL) == pytest.approx(20 / DIAGONAL)
    assert exclusion_spread(EXCLUSION[:1], DIAGONAL) == 0.0
    assert math.isnan(chamfer_distance(LEFT_HALF, np.zeros((0, 2)), DIAGONAL))
    assert math.isnan(exclusion_spread(np.zeros((0, 2)), DIAGONAL))


def test_efficiency():
    assert inclusion_efficiency(0.5, 4) == 0.125
    assert math.isnan(inclusion_efficiency(0.0, 0))


def test_encasing_is_the_mean_distance_to_the_contour(square):
    geometry = truth_geometry(square)
    # exclusion points 5 and 6 px outside the object (to its nearest pixel)
    assert exclusion_encasing(EXCLUSION, geometry) == pytest.approx(5.5 / DIAGONAL)
    # inclusion: the centre pixel (14, 14) is 5 px from the nearest pixel outside (column 9 or row 9)
    assert inclusion_encasing(np.array([[14, 14]], float), geometry) == pytest.approx(5 / DIAMETER)
    assert inclusion_encasing(LEFT_HALF, geometry) == pytest.approx(1 / DIAMETER)  # corner pixels: 1 px deep
    # points on the wrong side count negatively; a negative mean is floored at 0
    assert exclusion_encasing(np.array([[5, 14], [14, 14]], float), geometry) == 0.0  # (5 − 5) / 2
    assert exclusion_encasing(np.array([[25, 14], [14, 14]], float), geometry) == pytest.approx(0.5 / DIAGONAL)
    assert inclusion_encasing(np.array([[0, 0]], float), geometry) == 0.0
    assert math.isnan(exclusion_encasing(np.zeros((0, 2)), geometry))
    # a point off the image is clipped to its nearest pixel: (-5, 14) → (0, 14), 10 px left of column 10
    assert exclusion_encasing(np.array([[-5, 14]], float), geometry) == pytest.approx(10 / DIAGONAL)


def test_image_border_counts_as_outside_for_depth():
    truth = np.zeros((H, W), bool)
    truth[:, :5] = True  # touches the left border: pixel (0, 14) is 1 px deep
    assert inclusion_encasing(np.array([[0, 14]], float), truth_geometry(truth)) > 0


def test_all_features_at_once_and_a_timestep_without_exclusion_points(square):
    features = prompt_features(LEFT_HALF, EXCLUSION, truth_geometry(square), None)
    assert list(features) == list(PROMPT_FEATURES)
    assert features["coverage"] == 0.5 and features["inclusion_efficiency"] == 0.125
    assert features["exclusion_spread"] == pytest.approx(0.4)
    alone = prompt_features(LEFT_HALF, np.zeros((0, 2)), truth_geometry(square), None)
    assert alone["coverage"] == 0.5
    assert all(math.isnan(alone[k]) for k in ("chamfer_distance", "exclusion_spread", "exclusion_encasing"))
    no_truth = prompt_features(LEFT_HALF, EXCLUSION, None, (H, W))
    assert no_truth["exclusion_spread"] == pytest.approx(0.4)  # needs only the image size
    assert all(math.isnan(no_truth[k]) for k in ("coverage", "max_spread", "inclusion_encasing"))
    nothing = prompt_features(np.zeros((0, 2)), np.zeros((0, 2)), truth_geometry(square), None)
    assert nothing["coverage"] == 0.0 and math.isnan(nothing["max_spread"])
