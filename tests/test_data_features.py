"""The paper's data features: GLCM properties against a hand-computed 4×4 case, and the rest."""

import math

import numpy as np
import pytest

from core.analysis.data_features import (
    DATA_FEATURES,
    co_occurrence,
    connected_components,
    data_features,
    edge_density,
    glcm_distance,
    glcm_properties,
    grey_levels,
    mask_share,
    region_texture,
)

# scikit-image's documented example (graycomatrix): grey levels 0..3
IMAGE = np.array([[0, 0, 1, 1],
                  [0, 0, 1, 1],
                  [0, 2, 2, 2],
                  [2, 2, 3, 3]], np.uint8)
# pairs (value, right neighbour's value), counted by hand: 12 pairs
RIGHT = np.array([[2, 2, 1, 0],
                  [0, 2, 0, 0],
                  [0, 0, 3, 1],
                  [0, 0, 0, 1]])


def test_co_occurrence_counts_pairs_by_hand():
    counts = co_occurrence(IMAGE, np.ones((4, 4), bool), 1, 0)
    assert counts.shape == (256, 256)
    np.testing.assert_array_equal(counts[:4, :4], RIGHT)
    assert counts.sum() == 12
    below = co_occurrence(IMAGE, np.ones((4, 4), bool), 0, 1)  # columns top to bottom
    expected = np.zeros((4, 4), int)
    for (i, j), n in {(0, 0): 3, (0, 2): 2, (2, 2): 1, (1, 1): 2, (1, 2): 2, (2, 3): 2}.items():
        expected[i, j] = n
    np.testing.assert_array_equal(below[:4, :4], expected)


def test_glcm_properties_of_the_hand_case():
    properties = glcm_properties(RIGHT)
    # contrast: Σ P (i − j)²: (0,1)×2 → 2, (0,2)×1 → 4, (2,3)×1 → 1; over 12 pairs
    assert properties["contrast"] == pytest.approx(7 / 12)
    # homogeneity: Σ P / (1 + (i − j)²) = (2 + 2/2 + 1/5 + 2 + 3 + 1/2 + 1) / 12
    assert properties["homogeneity"] == pytest.approx(9.7 / 12)
    # energy: sqrt(Σ P²) = sqrt((4 + 4 + 1 + 4 + 9 + 1 + 1) / 144)
    assert properties["energy"] == pytest.approx(math.sqrt(24 / 144))
    # correlation: row marginal (5, 2, 4, 1)/12, column marginal (2, 4, 4, 2)/12
    mean_i, mean_j = 13 / 12, 18 / 12
    var_i, var_j = 27 / 12 - mean_i ** 2, 38 / 12 - mean_j ** 2
    covariance = 29 / 12 - mean_i * mean_j  # E[ij] = (1·1·2 + 2·2·3 + 2·3·1 + 3·3·1) / 12
    assert properties["correlation"] == pytest.approx(covariance / math.sqrt(var_i * var_j))


def test_region_texture_averages_the_two_directions_and_keeps_to_the_region():
    whole = region_texture(IMAGE, np.ones((4, 4), bool), distance=1)
    assert whole["contrast"] == pytest.approx((7 / 12 + 12 / 12) / 2)  # right: 7/12, below: (2·4 + 2·1 + 2·1)/12
    top = np.zeros((4, 4), bool)
    top[:2] = True  # rows 0 and 1 only: right pairs (0,0), (0,1), (1,1) twice; below pairs (0,0)×2, (1,1)×2
    counts = co_occurrence(IMAGE, top, 1, 0)
    assert counts.sum() == 6 and counts[0, 1] == 2
    assert region_texture(IMAGE, top, 1)["contrast"] == pytest.approx((2 / 6 + 0) / 2)


def test_flat_and_empty_regions():
    flat = glcm_properties(co_occurrence(np.full((5, 5), 7, np.uint8), np.ones((5, 5), bool), 1, 0))
    assert flat == {"contrast": 0.0, "homogeneity": 1.0, "energy": 1.0, "correlation": 1.0}
    empty = region_texture(IMAGE, np.zeros((4, 4), bool), 1)
    assert all(math.isnan(v) for v in empty.values())
    far = region_texture(IMAGE, np.ones((4, 4), bool), 10)  # no pair that far apart
    assert all(math.isnan(v) for v in far.values())


def test_glcm_distance_is_one_percent_of_the_extent():
    assert glcm_distance(50) == 1 and glcm_distance(250) == 2 and glcm_distance(float("nan")) == 1


def test_share_components_and_edge_density():
    truth = np.zeros((20, 20), bool)
    truth[2:5, 2:5] = True
    truth[5:8, 5:8] = True  # touches the first square only at a corner: 4-connected, two components
    assert mask_share(truth) == 18 / 400
    assert connected_components(truth) == 2
    assert connected_components(np.zeros((4, 4), bool)) == 0
    step = np.zeros((20, 20), np.uint8)
    step[:, 10:] = 255  # Canny marks one pixel per row, in column 9
    left = np.zeros((20, 20), bool)
    left[:, :10] = True
    assert edge_density(step, left) == 20 / 200
    assert edge_density(step, ~left) == 0.0
    assert edge_density(np.zeros((20, 20), np.uint8), left) == 0.0
    assert math.isnan(edge_density(step, np.zeros((20, 20), bool)))


def test_data_features_of_rgb_and_grey_images_agree():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    truth = np.zeros((24, 32), bool)
    truth[5:15, 8:20] = True
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_array_equal(grey_levels(rgb), grey)
    from_rgb, from_grey = data_features(rgb, truth), data_features(grey, truth)
    assert list(from_rgb) == list(DATA_FEATURES)
    assert from_rgb == pytest.approx(from_grey)
    everything = data_features(grey, np.ones((24, 32), bool))
    assert math.isnan(everything["glcm_background_contrast"]) and np.isfinite(everything["glcm_object_contrast"])
