"""Automated point strategies: budgets, inclusion inside / exclusion outside, in the image, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.kmedoids import kmedoids
from core.analysis.point_budgets import DEFAULT_BUDGET, PAPER_BUDGETS, budget_for, paper_category
from core.analysis.point_maps import greedy_peaks, local_entropy, spectral_residual_saliency
from core.analysis.point_regions import exclusion_band
from core.analysis.point_strategies import STRATEGIES, share_by_area
from core.analysis.prompt_prefixes import prompt_prefixes
from core.io.image_datasets import category_entries, list_categories
from core.paths import DEMO_DATASET
from core.synthetic.scenes import render_scene


def _cases():
    """(name, truth, image): the first image of every demo category, a generated scene's object, and
    a mask of two separate objects (the union of a generated scene's first two masks)."""
    cases = []
    for category in list_categories(DEMO_DATASET):
        item = category_entries(DEMO_DATASET, category)[0].read()
        cases.append((f"demo {category}", item.truth, item.image))
    scene = render_scene(np.random.default_rng(7), 128, 160, kinds=("ellipse", "star", "polygon"))
    cases.append(("scene object", scene.masks[-1], scene.image))
    two = np.zeros((128, 160), bool)
    two[20:50, 20:60] = True
    two[80:110, 100:150] = True
    cases.append(("two objects", two, scene.image))
    return cases


CASES = _cases()


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("budget", [(8, 2), (4, 5), (1, 1), (16, 0), (0, 3)])
def test_budget_kept_inclusion_inside_exclusion_outside_in_the_image(strategy, budget):
    for name, truth, image in CASES:
        inclusion, exclusion = STRATEGIES[strategy](truth, image, *budget, np.random.default_rng(3))
        assert inclusion.shape == (budget[0], 2) and exclusion.shape == (budget[1], 2), name
        assert inclusion.dtype == np.int64 and exclusion.dtype == np.int64
        height, width = truth.shape
        for points in (inclusion, exclusion):  # (x, y) inside the image
            assert ((points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)).all()
        assert truth[inclusion[:, 1], inclusion[:, 0]].all(), f"{strategy}: inclusion point outside the mask ({name})"
        assert not truth[exclusion[:, 1], exclusion[:, 0]].any(), f"{strategy}: exclusion point on the mask ({name})"
        assert exclusion_band(truth, budget[1])[exclusion[:, 1], exclusion[:, 0]].all(), name
        for points in (inclusion, exclusion):  # no point placed twice
            assert len(np.unique(points, axis=0)) == len(points), name


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_same_seed_same_points_and_a_tiny_region_gives_what_it_has(strategy):
    name, truth, image = CASES[-2]
    first = STRATEGIES[strategy](truth, image, 8, 2, np.random.default_rng(11))
    again = STRATEGIES[strategy](truth, image, 8, 2, np.random.default_rng(11))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    tiny = np.zeros((40, 50), bool)
    tiny[10, 10:13] = True  # three pixels
    inclusion, exclusion = STRATEGIES[strategy](tiny, image[:40, :50], 8, 2, np.random.default_rng(0))
    assert sorted(map(tuple, inclusion.tolist())) == [(10, 10), (11, 10), (12, 10)]  # (x, y)
    assert len(exclusion) == 2 and not tiny[exclusion[:, 1], exclusion[:, 0]].any()


def test_per_object_puts_points_on_every_component_and_random_draws_differ_by_seed():
    name, truth, image = CASES[-1]
    inclusion, _ = STRATEGIES["per_object"](truth, image, 5, 1, np.random.default_rng(0))
    on_first = inclusion[:, 1] < 64  # the object at rows 20..49 (1200 px), the other at rows 80..109 (1500 px)
    assert on_first.sum() == 2 and (~on_first).sum() == 3  # one each, the other 3 shared by area
    a, _ = STRATEGIES["random"](truth, image, 5, 1, np.random.default_rng(0))
    b, _ = STRATEGIES["random"](truth, image, 5, 1, np.random.default_rng(1))
    assert not np.array_equal(a, b)


def test_paper_budgets_by_category_name_and_a_default_for_others():
    assert len(PAPER_BUDGETS) == 16 and PAPER_BUDGETS["Cow"] == (16, 4)
    assert budget_for("salt_dome") == (5, 3) and budget_for("Dolphin-below") == (10, 4)
    assert paper_category("stop_sign") == "Stop sign" and paper_category("star") is None
    assert budget_for("star") == DEFAULT_BUDGET == (8, 2)
    assert budget_for("Cow", override=(3, 1)) == (3, 1)
    with pytest.raises(ValueError, match="at least one point"):
        budget_for("Cow", override=(0, 0))


def test_kmedoids_finds_separate_clusters_and_orders_them_by_size():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 10, size=(300, 2))
    small = rng.integers(100, 105, size=(60, 2))
    medoids = kmedoids(np.concatenate([small, big]), 2, np.random.default_rng(4))
    assert medoids[0].max() < 10 and medoids[1].min() >= 100  # the larger cluster first
    points = np.array([[1, 2], [3, 4], [1, 2]])
    np.testing.assert_array_equal(kmedoids(points, 5, rng), [[1, 2], [3, 4]])  # k >= distinct points: all


def test_share_by_area():
    assert share_by_area(8, [60, 30, 10]) == [4, 3, 1]
    assert share_by_area(2, [5, 4, 3]) == [1, 1, 0]  # fewer points than objects: the largest ones
    assert share_by_area(10, [3, 1, 1]) == [3, 1, 1]  # never more than an object's pixels


def test_entropy_and_saliency_cues():
    region = np.ones((40, 40), bool)
    flat = np.full((40, 40), 128, np.uint8)
    assert local_entropy(flat, region, 7).max() == 0
    noise = np.random.default_rng(0).integers(0, 256, (40, 40)).astype(np.uint8)
    assert local_entropy(noise, region, 7)[20, 20] > 3  # of 4 bits
    # with noise: the spectrum of a flat image with one square has exact zeros, which the log turns into spikes
    background = 90 + np.random.default_rng(1).normal(0, 8, (96, 128, 1))
    image = np.clip(background, 0, 255).repeat(3, axis=2).astype(np.uint8)
    image[40:50, 90:100] = 250  # one small bright square
    saliency = spectral_residual_saliency(image)
    assert saliency.shape == (96, 128) and saliency.min() == 0 and saliency.max() == 1
    row, col = np.unravel_index(np.argmax(saliency), saliency.shape)
    assert 40 <= row < 50 and 90 <= col < 100
    peaks = greedy_peaks(saliency, np.ones((96, 128), bool), 3, 10)
    assert len(peaks) == 3 and ((peaks[:, None] - peaks[None]) ** 2).sum(-1)[np.triu_indices(3, 1)].min() >= 100


def test_prefixes_alternate_kinds_and_start_with_one_of_each():
    inclusion = np.array([[1, 1], [2, 2], [3, 3]])
    exclusion = np.array([[9, 9], [8, 8]])
    sizes = [(len(g), len(r)) for g, r in prompt_prefixes(inclusion, exclusion)]
    assert sizes == [(1, 1), (2, 1), (2, 2), (3, 2)]
    green, red = prompt_prefixes(inclusion, exclusion)[-1]
    np.testing.assert_array_equal(green, inclusion)
    np.testing.assert_array_equal(red, exclusion)
    assert [(len(g), len(r)) for g, r in prompt_prefixes(inclusion, np.zeros((0, 2)))] == [(1, 0), (2, 0), (3, 0)]
    assert [(len(g), len(r)) for g, r in prompt_prefixes(np.zeros((0, 2)), exclusion)] == [(0, 1), (0, 2)]


def test_exclusion_band_is_a_ring_at_gap_to_gap_plus_width_and_falls_back_to_the_background():
    yy, xx = np.mgrid[:100, :100]
    disc = (xx - 50) ** 2 + (yy - 50) ** 2 <= 20**2  # r ≈ 20: gap = max(2, 2) = 2 px, width = max(4, 10) = 10 px
    band = exclusion_band(disc)
    distance = np.hypot(xx - 50, yy - 50) - 20  # ≈ the distance to the disc
    assert not (band & disc).any()
    assert (np.abs(distance[band] - 7) <= 5.6).all()  # in (2, 12], give or take the rasterised edge
    assert band[50, 50 + 20 + 7] and not band[50, 50 + 20 + 1] and not band[50, 50 + 20 + 14]
    almost_all = np.ones((20, 20), bool)
    almost_all[0, :3] = False  # 3 background pixels, too close to the mask for any band
    np.testing.assert_array_equal(exclusion_band(almost_all, minimum_pixels=2), ~almost_all)
    assert not exclusion_band(np.ones((5, 5), bool)).any()
