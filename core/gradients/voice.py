"""VOICE: the uncertainty of an explanation, from the variance of its contrastive explanations.

Prabhushankar & AlRegib, "VOICE: Variance of Induced Contrastive Explanations to quantify
Uncertainty in Neural Network Interpretability", IEEE JSTSP 2024 (seed 001, part 3).

For each sample: the explanation E = Grad-CAM of the predicted class P (or Grad-CAM++ with
``GradCAMPlusPlus``); the contrast maps C_Q = ContrastCAM(x, Q) ("why P, rather than Q?",
s = CE(z, Q)) with the same weighting, for

* ``classes="probable"`` (default, the paper and slides: only the contrasts that could change
  the decision): every Q ≠ P with p_Q ≥ ``probability_threshold`` (the slides name a threshold
  p_t without a value; ours defaults to 1/C, classes more likely than chance). When fewer than
  two classes pass, the two most likely Q ≠ P are used (a variance needs two maps).
* ``classes="all"`` (the released code, ``demo.py``): every Q ≠ P.

E and every C_Q are upsampled to the input grid (S, S) and min-max normalised each (as the
released code does); U = the per-pixel variance of the C_Q over Q, min-max normalised (the
released code's unbiased ``torch.var`` differs by a factor that the normalisation removes).
Metrics (released ``demo.py``): IoU(E > 0.1, U > 0.1), 1 when both are empty, higher = the
explanation is less trustworthy; SNR of U = mean / std over pixels (population std), 0 for a
constant U, higher = more dispersed uncertainty.

All contrasts of all samples come from one forward pass and one batched backward (or the
GAP + linear head's closed form, no backward); the variance of the normalised upsampled maps is
computed exactly from the grid maps' second moments
(:mod:`core.gradients.upsampled_variance`), never holding C maps of S × S.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from core.gradients.cam import minmax_normalise
from core.gradients.cam_targets import ClassTarget, ContrastTargets, StackedTargets
from core.gradients.classifier_cam import ClassifierCAM, GradCAM, GradCAMPlusPlus, to_image, upsample
from core.gradients.upsampled_variance import normalised_upsampled_variance
from core.models.classifier import ClassifierRecord

VOICE_LEVEL = 0.1


@dataclass
class VoiceResult:
    """explanation, uncertainty: (B, S, S) float32 in [0, 1] on the input grid; iou, snr: (B,);
    predicted: (B,) P; contrast_classes: (N,) the classes Q explained; used: (N, B) bool, which
    of them entered each sample's variance."""

    explanation: torch.Tensor
    uncertainty: torch.Tensor
    iou: torch.Tensor
    snr: torch.Tensor
    predicted: torch.Tensor
    contrast_classes: torch.Tensor
    used: torch.Tensor


def voice_metrics(explanation: torch.Tensor, uncertainty: torch.Tensor,
                  level: float = VOICE_LEVEL) -> tuple[torch.Tensor, torch.Tensor]:
    """(…, H, W) maps in [0, 1] → (IoU(E > level, U > level), SNR(U) = mean/std), each (…,).
    IoU is 1 when neither map passes the level; SNR is 0 for a constant U."""
    e_on, u_on = explanation > level, uncertainty > level
    union = (e_on | u_on).flatten(-2).sum(-1)
    intersection = (e_on & u_on).flatten(-2).sum(-1)
    iou = torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union, dtype=torch.float32))
    flat = uncertainty.flatten(-2).double()
    std = flat.std(dim=-1, unbiased=False)
    snr = torch.where(std > 0, flat.mean(dim=-1) / std.clamp_min(1e-300), torch.zeros_like(std))
    return iou.float(), snr.float()


def contrast_selection(logits: torch.Tensor, classes: Literal["probable", "all"] = "probable",
                       probability_threshold: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Which contrasts Q enter each sample's VOICE: (B, C) logits → ((N,) class ids, (N, B) used).
    The ids are the union over the batch, so one backward serves every sample."""
    probabilities = logits.softmax(dim=-1)
    batch, count = probabilities.shape
    rows = torch.arange(batch, device=logits.device)
    not_predicted = torch.ones_like(probabilities, dtype=torch.bool)
    not_predicted[rows, probabilities.argmax(dim=-1)] = False
    if classes == "all":
        used = not_predicted
    elif classes == "probable":
        threshold = 1.0 / count if probability_threshold is None else probability_threshold
        used = not_predicted & (probabilities >= threshold)
        top = probabilities.topk(min(3, count), dim=-1).indices[:, 1:]  # the two most likely Q ≠ P
        fallback = torch.zeros_like(used)
        fallback[rows[:, None], top] = True
        used = torch.where(used.sum(dim=-1, keepdim=True) < 2, fallback, used)
    else:
        raise ValueError(f"classes must be 'probable' or 'all', not {classes!r}")
    ids = used.any(dim=0).nonzero()[:, 0]
    return ids, used[:, ids].T


def voice(cam: ClassifierCAM, inputs: torch.Tensor, classes: Literal["probable", "all"] = "probable",
          probability_threshold: float | None = None, level: float = VOICE_LEVEL) -> VoiceResult:
    """VOICE of (B, 3, S, S) inputs with ``cam``'s layer and weighting (a :class:`GradCAM` for
    the paper's Grad-CAM, a ``GradCAMPlusPlus`` for its Grad-CAM++ row)."""
    layer_pass = cam.forward(inputs)
    predicted = layer_pass.logits.argmax(dim=-1)
    ids, used = contrast_selection(layer_pass.logits, classes, probability_threshold)
    result = cam.explain(layer_pass, StackedTargets(ClassTarget(predicted), ContrastTargets(ids)))
    explanation = upsample(result.grid[0], result.input_size)  # (B, S, S)
    variance = normalised_upsampled_variance(result.grid[1:], used, result.input_size)
    uncertainty = minmax_normalise(variance).float()
    iou, snr = voice_metrics(explanation, uncertainty, level)
    return VoiceResult(explanation, uncertainty, iou, snr, predicted, ids, used)


@dataclass
class ImageVoice:
    """explanation, uncertainty: (H, W) float32 in [0, 1] at the image's size; iou, snr: floats
    (computed on the input grid, see :func:`voice`); predicted: P; contrasts: the Q used."""

    explanation: np.ndarray
    uncertainty: np.ndarray
    iou: float
    snr: float
    predicted: int
    contrasts: list[int]


def voice_image(record: ClassifierRecord, image: np.ndarray, weighting: Literal["gradcam", "gradcam++"] = "gradcam",
                classes: Literal["probable", "all"] = "probable",
                probability_threshold: float | None = None) -> ImageVoice:
    """VOICE of one (H, W, 3) uint8 RGB image with a loaded classifier."""
    cam = (GradCAM if weighting == "gradcam" else GradCAMPlusPlus).from_record(record)
    result = voice(cam, record.preprocessing.to_tensor(image, record.device), classes, probability_threshold)
    size = image.shape[:2]
    return ImageVoice(to_image(result.explanation[0], size), to_image(result.uncertainty[0], size),
                      float(result.iou[0]), float(result.snr[0]), int(result.predicted[0]),
                      result.contrast_classes[result.used[:, 0]].tolist())
