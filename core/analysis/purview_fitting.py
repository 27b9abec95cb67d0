"""Fit the Purview reliability detector on an evaluation's own data, scoring every sample out of fold.

Training samples: the clean images (label 0) and the challenge sets (label 1: the OOD images and
the corruptions named as detector challenges, every level). Samples are grouped by source image
(an image and its corrupted copies share a group; each OOD image is its own group) and the
groups dealt at random into ``folds`` folds; every sample, of any set, is scored by the detector
fitted without its fold, so no image is scored by a detector that saw it (or a copy of it).
With fewer than two groups, or a fold whose training part lacks a class, the detector fitted
on all training samples scores that fold and the result says ``in_sample``. The detector
fitted on all training samples is returned for later use (saved as JSON by the evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.gradients.purview import PurviewDetector


@dataclass
class CrossFittedPurview:
    """scores: (N,) out-of-fold P(challenge); detector: fitted on all training samples;
    folds: the number used; in_sample: whether some samples were scored by a detector that saw them."""

    scores: np.ndarray
    detector: PurviewDetector
    folds: int
    in_sample: bool


def cross_fit_purview(features: np.ndarray, layer_names: list[str], sets: list[str], groups: np.ndarray,
                      challenge_sets: set[str], folds: int = 5, seed: int = 0) -> CrossFittedPurview | None:
    """(N, F) features of N samples with their ``sets`` and (N,) ``groups`` → out-of-fold scores.

    None when there is no clean or no challenge sample to learn from.
    """
    sets_array = np.asarray(sets)
    is_clean = sets_array == "clean"
    is_challenge = np.isin(sets_array, sorted(challenge_sets))
    if not is_clean.any() or not is_challenge.any():
        return None
    train = is_clean | is_challenge
    info = {"challenge_sets": sorted(challenge_sets & set(sets))}
    final = PurviewDetector.fit(features[is_clean], features[is_challenge], layer_names, info=info)
    unique = np.unique(groups)
    k = min(folds, len(unique))
    scores = np.empty(len(features))
    if k < 2:
        return CrossFittedPurview(final.challenge_probability(features), final, 1, True)
    fold_of_group = dict(zip(unique[np.random.default_rng(seed).permutation(len(unique))], np.arange(len(unique)) % k))
    fold = np.array([fold_of_group[g] for g in groups])
    in_sample = False
    for f in range(k):
        fit_rows = train & (fold != f)
        if (fit_rows & is_clean).any() and (fit_rows & is_challenge).any():
            detector = PurviewDetector.fit(features[fit_rows & is_clean], features[fit_rows & is_challenge],
                                           layer_names)
        else:
            detector, in_sample = final, True
        scores[fold == f] = detector.challenge_probability(features[fold == f])
    return CrossFittedPurview(scores, final, k, in_sample)
