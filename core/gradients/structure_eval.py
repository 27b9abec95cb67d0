"""Structure-wise deletion and insertion: how much of the decision an explanation keeps per bit.

Seed 001, part 4, evaluation 3 (slides "Progressive Structure-wise Insertion and Deletion"). No
public code exists; these are our choices, each stated:

* Levels: the explanation E (H, W) in [0, 1] (at the image's size) is thresholded at levels
  t ∈ (0, 1), default 0.1, 0.2, …, 0.9.
* Deletion (the slides' steps 1–3): x_t = the image with every pixel where E < t replaced by
  ``fill`` — "black" (0, default) or "mean" (the image's mean colour, rounded to 8 bits). Larger
  t deletes more.
* Insertion: the pixels where E ≥ t put into a canvas — "blur" (default: a Gaussian blur of the
  image, σ = 5 px at the classifier's input grid, i.e. 5·max(H, W)/S image pixels, as RISE's
  insertion) or "mean" (the image's mean colour). With a constant canvas insertion would give
  the very images deletion gives, so the canvas carries the image's coarse content.
* x-axis: bits(x_t) / bits(x), with bits of the 8-bit RGB image under its own Huffman code
  (:mod:`core.gradients.huffman`: one code for all channel values, table not counted).
* y-axis: p_P(x_t), the softmax probability of the class P predicted for the original image
  (the slides plot accuracy over a dataset: average ``correct`` over images for that).
* Endpoints: deletion adds the fully filled image (t above every value) and the original
  (ratio 1); insertion adds the bare canvas and the original.
* Summary: ``auc`` = the trapezoid area under p_P over the bit ratio (points sorted by ratio,
  endpoints included) divided by the ratio's span: the mean p_P over the bit range, in [0, 1].
  Higher is better for both: the explanation keeps the decision in few bits.

All masked images of one curve go through the classifier in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch

from core.gradients.huffman import huffman_bits
from core.models.classifier import ClassifierRecord

DEFAULT_LEVELS = tuple(round(0.1 * i, 1) for i in range(1, 10))


@dataclass
class StructureCurve:
    """thresholds: (T,) levels t; bit_ratios: (T,) bits(x_t)/bits(x); probabilities: (T,) p_P(x_t);
    start: (ratio, p) of the fully deleted image or the bare canvas; original_probability: p_P(x);
    predicted: P; correct: (T,) whether x_t is still classified as P; auc: see the module docstring."""

    mode: str
    thresholds: np.ndarray
    bit_ratios: np.ndarray
    probabilities: np.ndarray
    correct: np.ndarray
    start: tuple[float, float]
    original_probability: float
    predicted: int
    auc: float


def _canvas(image: np.ndarray, kind: str, input_size: int) -> np.ndarray:
    if kind == "black":
        return np.zeros_like(image)
    if kind == "mean":
        return np.broadcast_to(np.round(image.reshape(-1, 3).mean(axis=0)).astype(np.uint8), image.shape).copy()
    if kind == "blur":
        sigma = 5.0 * max(image.shape[:2]) / input_size
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)
    raise ValueError(f"canvas must be 'black', 'mean' or 'blur', not {kind!r}")


def structure_curve(record: ClassifierRecord, image: np.ndarray, explanation: np.ndarray,
                    mode: Literal["deletion", "insertion"] = "deletion",
                    levels: tuple[float, ...] | np.ndarray = DEFAULT_LEVELS,
                    canvas: Literal["black", "mean", "blur"] | None = None,
                    predicted: int | None = None) -> StructureCurve:
    """The structure-wise curve of an (H, W) explanation in [0, 1] for an (H, W, 3) uint8 RGB
    image; ``canvas`` defaults to "black" for deletion and "blur" for insertion; ``predicted``
    defaults to the class the classifier gives the image."""
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', not {mode!r}")
    if explanation.shape != image.shape[:2]:
        raise ValueError(f"the explanation is {explanation.shape}, the image {image.shape[:2]}: resize it with "
                         "core.gradients.classifier_cam.to_image")
    levels = np.asarray(levels, dtype=np.float64)
    background = _canvas(image, canvas or ("black" if mode == "deletion" else "blur"), record.preprocessing.size)
    kept = explanation[None] >= levels[:, None, None]  # (T, H, W): the pixels of x in x_t
    images = np.where(kept[..., None], image[None], background[None])
    batch = record.preprocessing.to_tensor([background, *images, image], record.device)
    with torch.no_grad():
        logits = torch.cat([record.model(batch[i:i + 32]) for i in range(0, len(batch), 32)])
    predicted = int(logits[-1].argmax()) if predicted is None else predicted
    probabilities = logits.softmax(dim=-1)[:, predicted].cpu().numpy().astype(np.float64)
    correct = (logits.argmax(dim=-1) == predicted).cpu().numpy()
    original_bits = max(huffman_bits(image), 1)
    ratios = np.array([huffman_bits(x) for x in (background, *images, image)], dtype=np.float64) / original_bits
    order = np.argsort(ratios, kind="stable")
    span = ratios.max() - ratios.min()
    auc = float(np.trapezoid(probabilities[order], ratios[order]) / span) if span > 0 else float(probabilities.mean())
    return StructureCurve(mode, levels, ratios[1:-1], probabilities[1:-1], correct[1:-1],
                          (float(ratios[0]), float(probabilities[0])), float(probabilities[-1]), predicted, auc)
