"""Evaluating an explanation by intervening on the input: masking and pixel-wise deletion/insertion.

Seed 001, part 4 ("Explanation evaluation"), evaluations 1 and 2; structure-wise deletion and
insertion by Huffman bits is in :mod:`core.gradients.structure_eval`.

Shapes: ``model`` maps (n, 3, S, S) float32 inputs to (n, C) logits (a ClassifierRecord's
model, in eval mode); inputs (B, 3, S, S) as ``Preprocessing.to_tensor`` makes them (ImageNet-
normalised, so 0 is the dataset's mean colour); saliency maps (B, S, S) on the same input grid
(a CAM's ``maps()``, or an (H, W) map resized to S × S); classes (B,) int64, default the class P
the model predicts for the unmodified input; scores are softmax probabilities p_P.

* Masking (evaluation 1): x ⊙ M with the map M in [0, 1] as a soft mask, towards ``baseline``
  (0: the mean colour): x_M = baseline + M·(x − baseline). p_P before and after.
* Pixel-wise deletion / insertion (evaluation 2; Petsiuk et al., RISE, 2018, ``CausalMetric``):
  pixels ranked by saliency (highest first; ties in raster order), ``pixels_per_step`` of them
  (default: one row, S; RISE uses 224 at 224²) changed per step, n = ⌈S²/step⌉ steps, p_P at each
  of the n + 1 images (all in batches of ``batch_size``, no loop over steps). Deletion replaces
  pixels of x with ``substrate`` "zero" (RISE: 0, the mean colour; default) or "mean" (the image's
  own mean colour); insertion puts pixels of x into "blur" (RISE: a Gaussian blur of x, 11 × 11,
  σ = 5 input pixels, zero padding; default) or "mean" (a constant image of x's mean colour: the
  slides' "mean image"). AUC = trapezoid rule over the fraction of pixels changed, in [0, 1]:
  lower is better for deletion (necessity), higher for insertion (sufficiency).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Model = Callable[[torch.Tensor], torch.Tensor]


class EvaluationCancelled(Exception):
    """Raised between batches of a curve when ``cancelled()`` says it is no longer wanted."""


@dataclass
class MaskingResult:
    """before, after: (B,) p_P of x and of the masked x; classes: (B,) P."""

    before: torch.Tensor
    after: torch.Tensor
    classes: torch.Tensor


@dataclass
class CausalCurve:
    """fractions: (T,) fraction of pixels deleted / inserted, 0 … 1; scores: (B, T) p_P at each
    step; auc: (B,) trapezoid area in [0, 1]; classes: (B,) P."""

    fractions: torch.Tensor
    scores: torch.Tensor
    auc: torch.Tensor
    classes: torch.Tensor


def class_probability(model: Model, inputs: torch.Tensor, classes: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """p_c of (n, 3, S, S) inputs for (n,) classes, in batches: (n,)."""
    with torch.no_grad():
        parts = [model(inputs[i:i + batch_size]).softmax(dim=-1).gather(1, classes[i:i + batch_size, None])[:, 0]
                 for i in range(0, len(inputs), batch_size)]
    return torch.cat(parts)


def _classes(model: Model, inputs: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
    if classes is not None:
        return torch.as_tensor(classes, dtype=torch.long, device=inputs.device).expand(len(inputs))
    with torch.no_grad():
        return model(inputs).argmax(dim=-1)


def masking_scores(model: Model, inputs: torch.Tensor, masks: torch.Tensor, classes: torch.Tensor | None = None,
                   baseline: float | torch.Tensor = 0.0) -> MaskingResult:
    """p_P of (B, 3, S, S) inputs and of the inputs masked by (B, S, S) maps in [0, 1]."""
    classes = _classes(model, inputs, classes)
    masked = baseline + masks[:, None].to(inputs) * (inputs - baseline)
    return MaskingResult(class_probability(model, inputs, classes), class_probability(model, masked, classes), classes)


def gaussian_blur(inputs: torch.Tensor, size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """RISE's insertion start: each channel of (B, 3, S, S) convolved with a normalised
    ``size`` × ``size`` Gaussian of std ``sigma`` pixels, zero padding."""
    offsets = torch.arange(size, dtype=inputs.dtype, device=inputs.device) - size // 2
    line = torch.exp(-offsets.pow(2) / (2 * sigma ** 2))
    kernel = (line[:, None] * line[None, :]) / line.sum().pow(2)
    channels = inputs.shape[1]
    return F.conv2d(inputs, kernel.expand(channels, 1, size, size), padding=size // 2, groups=channels)


def _substrate(inputs: torch.Tensor, substrate: str) -> torch.Tensor:
    if substrate == "zero":
        return torch.zeros_like(inputs)
    if substrate == "mean":
        return inputs.mean(dim=(-2, -1), keepdim=True).expand_as(inputs)
    if substrate == "blur":
        return gaussian_blur(inputs)
    raise ValueError(f"substrate must be 'zero', 'mean' or 'blur', not {substrate!r}")


def causal_curve(model: Model, inputs: torch.Tensor, saliency: torch.Tensor,
                 mode: Literal["deletion", "insertion"], classes: torch.Tensor | None = None,
                 pixels_per_step: int | None = None, substrate: Literal["zero", "mean", "blur"] | None = None,
                 batch_size: int = 64, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> CausalCurve:
    """Pixel-wise deletion or insertion curve of (B, S, S) saliency maps (see the module docstring;
    ``substrate`` defaults to "zero" for deletion and "blur" for insertion). After each batch of
    images ``progress(done, total)`` is told and ``cancelled()`` asked (True raises
    :class:`EvaluationCancelled`): B·(n + 1) forward passes take seconds for an ImageNet model."""
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', not {mode!r}")
    batch, _, height, width = inputs.shape
    pixels = height * width
    step = pixels_per_step or width
    steps = math.ceil(pixels / step)
    classes = _classes(model, inputs, classes)
    other = _substrate(inputs, substrate or ("zero" if mode == "deletion" else "blur"))
    first, second = (inputs, other) if mode == "deletion" else (other, inputs)  # before / after a pixel's turn
    order = saliency.reshape(batch, pixels).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(pixels, device=order.device).expand(batch, -1))
    counts = (torch.arange(steps + 1, device=inputs.device) * step).clamp_max(pixels)  # pixels changed per step
    sample = torch.arange(batch, device=inputs.device).repeat_interleave(steps + 1)
    changed = counts.repeat(batch)
    scores = []
    with torch.no_grad():
        for start in range(0, len(sample), batch_size):
            b, n = sample[start:start + batch_size], changed[start:start + batch_size]
            turned = (rank[b] < n[:, None]).reshape(-1, 1, height, width)
            images = torch.where(turned, second[b], first[b])
            scores.append(model(images).softmax(dim=-1).gather(1, classes[b, None])[:, 0])
            if progress is not None:
                progress(min(start + batch_size, len(sample)), len(sample))
            if cancelled():
                raise EvaluationCancelled
    scores = torch.cat(scores).reshape(batch, steps + 1)
    fractions = counts.to(scores.dtype) / pixels
    return CausalCurve(fractions, scores, torch.trapezoid(scores, fractions, dim=-1), classes)


def deletion_curve(model: Model, inputs: torch.Tensor, saliency: torch.Tensor, **options) -> CausalCurve:
    """Pixel-wise deletion (lower AUC = better explanation); options as :func:`causal_curve`."""
    return causal_curve(model, inputs, saliency, "deletion", **options)


def insertion_curve(model: Model, inputs: torch.Tensor, saliency: torch.Tensor, **options) -> CausalCurve:
    """Pixel-wise insertion (higher AUC = better explanation); options as :func:`causal_curve`."""
    return causal_curve(model, inputs, saliency, "insertion", **options)
