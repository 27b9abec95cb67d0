"""Purview gradient features and their reliability detector (Lee, Prabhushankar, AlRegib, IEEE Access 2023).

Features: L = BCE-with-logits(z, 1), the mean over the C classes of −log σ(z_c) against an
all-ones "confounding label" (as ``nn.BCEWithLogitsLoss`` in the authors' code); for every layer
(module) of the model the squared L2 norm of ∂L/∂θ over its parameters, per sample
(core.gradients.layer_gradients: one batched pass, torch.func for layers without a rule). A
(B, L) array; in-distribution data has the smaller norms, so the unsupervised scalar
``purview_total`` (the sum over layers) reads higher = less sure.

Detector: a logistic regression (scikit-learn) on the standardised log-features, trained to
tell in-distribution inputs (label 0) from challenge inputs (label 1: noise, blur, OOD, ...),
the slides' steps 1–5. Its output P(challenge) is the ``purview`` score: higher = less sure.
It is stored as plain JSON (feature names, standardisation, coefficients), never pickled, and
predicts with NumPy alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.gradients.layer_gradients import batched_layer_norms
from core.gradients.per_sample import per_sample_layer_norms
from core.io.atomic import atomic_write

DETECTOR_FORMAT = "pointprompt-purview-detector"
LOG_FLOOR = 1e-30  # squared norms are logged; a layer with an exactly zero gradient gets log(1e-30)


class PurviewDetectorError(Exception):
    """A detector file is missing, malformed, or made for other features; the message names it."""


def confounding_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits of (C,) logits against all ones: mean_c −log σ(z_c)."""
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def purview_features(model: nn.Module, inputs: torch.Tensor, names: Sequence[str] | None = None,
                     chunk_size: int | None = None,
                     method: str = "batched") -> tuple[np.ndarray, list[str], torch.Tensor]:
    """Per-sample, per-layer squared gradient norms of the confounding loss.

    ``inputs`` (B, 3, S, S) preprocessed; ``names`` restricts the parameters (all by default);
    ``method``: "batched" (one batched pass for Linear / Conv2d / norm layers, torch.func for the
    rest: core.gradients.layer_gradients) or "vmap" (torch.func for every parameter).
    Returns ((B, L) float64 norms, the L layer names, (B, C) logits).
    """
    if method not in ("batched", "vmap"):
        raise ValueError(f"unknown Purview method {method!r}; use 'batched' or 'vmap'")
    compute = batched_layer_norms if method == "batched" else per_sample_layer_norms
    norms, layers, logits = compute(model, inputs, confounding_loss, names, chunk_size)
    return norms.cpu().numpy(), layers, logits


def _log_features(features: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(features, np.float64) + LOG_FLOOR)


@dataclass
class PurviewDetector:
    """Logistic regression on standardised log squared norms; ``mean``, ``scale``, ``coef`` are (F,)."""

    feature_names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, in_distribution: np.ndarray, challenge: np.ndarray, feature_names: Sequence[str],
            regularisation: float = 1.0, info: dict | None = None) -> "PurviewDetector":
        """Fit on (N, F) in-distribution and (M, F) challenge features (both classes weighted equally)."""
        from sklearn.linear_model import LogisticRegression

        if len(in_distribution) == 0 or len(challenge) == 0:
            raise ValueError("the Purview detector needs both in-distribution and challenge samples")
        x = _log_features(np.concatenate([in_distribution, challenge]))
        y = np.r_[np.zeros(len(in_distribution)), np.ones(len(challenge))]
        mean, scale = x.mean(0), x.std(0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000)
        model.fit((x - mean) / scale, y)
        return cls(list(feature_names), mean, scale, model.coef_[0].copy(), float(model.intercept_[0]),
                   dict(info or {}, in_distribution=len(in_distribution), challenge=len(challenge),
                        regularisation=regularisation))

    def challenge_probability(self, features: np.ndarray, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """(N, F) features → (N,) P(challenge). Higher = less sure."""
        if feature_names is not None and list(feature_names) != self.feature_names:
            raise PurviewDetectorError(f"this detector was fitted on {len(self.feature_names)} layers "
                                       f"({', '.join(self.feature_names[:3])}, ...) but the features come from "
                                       f"{len(feature_names)} others: fit a detector for this classifier")
        logit = ((_log_features(features) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def to_dict(self) -> dict:
        return {"format": DETECTOR_FORMAT, "version": 1, "loss": "mean BCE-with-logits(z, 1)",
                "features": "log(squared L2 norm of dL/dtheta per layer + 1e-30), standardised",
                "feature_names": self.feature_names, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "info": self.info}

    @classmethod
    def from_dict(cls, data: dict, source: str = "detector") -> "PurviewDetector":
        if data.get("format") != DETECTOR_FORMAT:
            raise PurviewDetectorError(f"{source} is not a Purview detector (format {data.get('format')!r})")
        try:
            names = [str(name) for name in data["feature_names"]]
            arrays = [np.asarray(data[key], np.float64) for key in ("mean", "scale", "coef")]
            intercept = float(data["intercept"])
        except (KeyError, TypeError, ValueError) as error:
            raise PurviewDetectorError(f"{source} is damaged ({error}); fit the detector again") from error
        if any(array.shape != (len(names),) for array in arrays):
            raise PurviewDetectorError(f"{source} is damaged: its arrays do not match its {len(names)} features")
        return cls(names, *arrays, intercept, dict(data.get("info", {})))

    def save(self, path: str | Path) -> Path:
        """Write the detector as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=1).encode()
        return atomic_write(path, lambda handle: handle.write(text))

    @classmethod
    def load(cls, path: str | Path) -> "PurviewDetector":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PurviewDetectorError(f"cannot read the Purview detector {path}: {error}") from error
        return cls.from_dict(data, str(path))
