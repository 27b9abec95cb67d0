"""Accuracy–rejection areas and detection metrics on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from core.analysis import trust_metrics


def _labelled(rng: np.random.Generator, n: int = 400, accuracy: float = 0.7, classes: int = 4):
    labels = rng.integers(0, classes, n)
    correct = rng.random(n) < accuracy
    predictions = np.where(correct, labels, (labels + rng.integers(1, classes, n)) % classes)
    return labels, predictions, correct


def test_perfect_trust_reaches_the_maximum_auac(rng):
    labels, predictions, correct = _labelled(rng)
    n, right = len(labels), int(correct.sum())
    curve = trust_metrics.rejection_curve(correct.astype(float), labels, predictions, points=None)
    counts = np.arange(1, n + 1)
    best = np.mean(np.minimum(counts, right) / counts)  # all right ones first
    assert math.isclose(curve.auac, best, rel_tol=1e-12)
    assert curve.aufc > trust_metrics.rejection_curve(rng.random(n), labels, predictions, points=None).aufc
    for seed in range(5):  # no ranking does better
        other = trust_metrics.rejection_curve(rng.random(n), labels, predictions, points=None)
        assert other.auac < curve.auac


def test_random_trust_gives_about_the_accuracy(rng):
    labels, predictions, correct = _labelled(rng, n=2000)
    values = [trust_metrics.rejection_curve(rng.random(len(labels)), labels, predictions).auac for _ in range(10)]
    assert abs(np.mean(values) - correct.mean()) < 0.03
    constant = trust_metrics.rejection_curve(np.zeros(len(labels)), labels, predictions)  # all tied: random order
    assert abs(constant.auac - correct.mean()) < 0.05


@pytest.mark.parametrize("points", [None, 100, 37])
def test_auac_is_one_minus_aurc_on_the_same_grid(rng, points):
    labels, predictions, correct = _labelled(rng, n=250)
    trust = correct + rng.normal(0, 0.8, len(labels))
    curve = trust_metrics.rejection_curve(trust, labels, predictions, points=points)
    assert math.isclose(curve.auac, 1 - trust_metrics.aurc(trust, correct, points=points), abs_tol=1e-12)
    assert math.isclose(curve.aurc, 1 - curve.auac, abs_tol=1e-12)


def test_retained_grid():
    assert trust_metrics.retained_counts(5, 100).tolist() == [1, 2, 3, 4, 5]
    grid = trust_metrics.retained_counts(1000, 100)
    assert len(grid) == 100 and grid[0] == 10 and grid[-1] == 1000 and (np.diff(grid) > 0).all()


def test_macro_f1_matches_scikit_learn_on_the_retained_set(rng):
    from sklearn.metrics import f1_score

    labels, predictions, _ = _labelled(rng, n=60)
    trust = rng.random(60)
    curve = trust_metrics.rejection_curve(trust, labels, predictions, points=None)
    order = np.argsort(-trust)
    for k in (5, 30, 60):
        assert math.isclose(curve.macro_f1[k - 1], f1_score(labels[order[:k]], predictions[order[:k]],
                                                            average="macro", zero_division=0))


def test_detection_metrics_on_known_distributions(rng):
    shift = 1.0
    trust_in, trust_out = rng.normal(shift, 1, 100_000), rng.normal(0, 1, 100_000)
    metrics = trust_metrics.detection_metrics(trust_in, trust_out)
    labels = np.r_[np.ones(len(trust_in)), np.zeros(len(trust_out))]
    scores = np.r_[trust_in, trust_out]
    assert math.isclose(metrics["auroc"], roc_auc_score(labels, scores), abs_tol=1e-12)
    assert math.isclose(metrics["aupr_in"], average_precision_score(labels, scores), abs_tol=1e-12)
    assert math.isclose(metrics["aupr_out"], average_precision_score(1 - labels, -scores), abs_tol=1e-12)
    assert abs(metrics["auroc"] - norm.cdf(shift / math.sqrt(2))) < 0.005  # analytic AUROC of two normals
    threshold = np.quantile(trust_in, 0.05)  # keeps 95 % of in-distribution
    assert abs(metrics["fpr95"] - np.mean(trust_out >= threshold)) < 1e-3
    assert abs(metrics["fpr95"] - norm.sf(shift - norm.ppf(0.95))) < 0.01  # analytic: 0.74
    best = max(0.5 * (np.mean(trust_in >= t) + np.mean(trust_out < t)) for t in np.linspace(-2, 3, 501))
    assert abs(metrics["detection_accuracy"] - best) < 2e-3
    assert abs(metrics["detection_accuracy"] - norm.cdf(shift / 2)) < 0.005  # threshold at the midpoint


def test_detection_metrics_of_separable_and_empty_sets():
    separable = trust_metrics.detection_metrics(np.array([3.0, 4.0, 5.0]), np.array([0.0, 1.0]))
    assert separable == {"auroc": 1.0, "aupr_in": 1.0, "aupr_out": 1.0, "fpr95": 0.0, "detection_accuracy": 1.0}
    assert all(math.isnan(v) for v in trust_metrics.detection_metrics(np.array([1.0]), np.array([])).values())


def test_misprediction_auroc_orientation():
    correct = np.array([True, True, False, False])
    assert trust_metrics.misprediction_auroc(np.array([0.9, 0.8, 0.2, 0.1]), correct) == 1.0
    assert math.isnan(trust_metrics.misprediction_auroc(np.ones(3), np.ones(3, bool)))


def test_macro_f1_curve_equals_scikit_learn_with_absent_classes(rng):
    from sklearn.metrics import f1_score

    labels = rng.integers(0, 7, 80)
    predictions = np.where(rng.random(80) < 0.5, labels, rng.integers(0, 9, 80))  # classes 7, 8 only predicted
    counts = np.arange(1, 81)
    curve = trust_metrics.macro_f1_curve(labels, predictions, counts)
    expected = [f1_score(labels[:k], predictions[:k], average="macro", zero_division=0) for k in counts]
    np.testing.assert_allclose(curve, expected, atol=1e-12)
