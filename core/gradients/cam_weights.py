"""Channel weightings of the CAM family: the only thing that differs between the methods.

A weighting maps the target layer's activations ``A`` (B, K, h, w) and the gradients of N scores
``G`` (N, B, K, h, w) (g = ∂s/∂A, one per score and sample) to channel weights α (N, B, K);
the map is then ReLU(Σ_k α_k A_k) (:func:`core.gradients.cam.weighted_map`). Which score is
differentiated is the target's business (:mod:`core.gradients.cam_targets`), so ContrastCAM is
:class:`GradCAMWeights` with a contrast target, and contrastive Grad-CAM++ is
:class:`GradCAMPlusPlusWeights` with the same target.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch

from core.gradients.cam import gradcam_weights


class Weighting(Protocol):
    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) activations, (N, B, K, h, w) gradients → (N, B, K) channel weights."""
        ...


class GradCAMWeights:
    """Grad-CAM (Selvaraju et al. 2017): α_k = mean_ij g_kij. The slides' definition and the
    released code (VOICE's ``GradCAM`` / ``Contrast``) agree."""

    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return gradcam_weights(gradients)


class NegatedWeights:
    """CounterfactualCAM ("what if this region were absent?", slides of seed 003): the inner
    weighting's α negated, so the map shows what speaks against the score. For Grad-CAM this is
    the same as explaining s = −z_P."""

    def __init__(self, inner: Weighting | None = None) -> None:
        self.inner = inner if inner is not None else GradCAMWeights()

    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return -self.inner(activations, gradients)


class GradCAMPlusPlusWeights:
    """Grad-CAM++ (Chattopadhay et al. 2018, eq. 19, with the exponential output Y = exp(s)):
    α_k = Σ_ij a_kij · ReLU(g_kij), where

    * ``variant="paper"`` (default, the slides' and the paper's definition, and what
      pytorch-grad-cam computes): a_kij = g² / (2 g² + (Σ_ab A_kab) · g³), g = g_kij, and
      a = 0 where g = 0; ``eps`` (default 1e-6) is added to the denominator.
    * ``variant="voice_code"`` (the released VOICE / Explanatory-Paradigms code, ``GradCAMpp``
      and ``Contrast_pp``): the denominator's sum runs over the product, 2 g² + Σ_ab A_kab g³_kab,
      a denominator of exactly 0 is replaced by 1, and ``eps`` (default 1e-7) is added.

    Both omit the factor exp(s) of ∂Y/∂A = exp(s)·g in the ReLU term (the released code keeps
    it): it is one positive number per map and cancels in the min-max normalisation, while
    exp(s) of a large logit overflows float32.
    """

    def __init__(self, variant: Literal["paper", "voice_code"] = "paper", eps: float | None = None) -> None:
        if variant not in ("paper", "voice_code"):
            raise ValueError(f"Grad-CAM++ variant must be 'paper' or 'voice_code', not {variant!r}")
        self.variant = variant
        self.eps = eps if eps is not None else (1e-6 if variant == "paper" else 1e-7)

    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        g2 = gradients.pow(2)
        g3 = g2 * gradients
        if self.variant == "paper":
            denominator = 2 * g2 + activations.sum(dim=(-2, -1), keepdim=True) * g3
            a = torch.where(gradients != 0, g2 / (denominator + self.eps), torch.zeros_like(g2))
        else:
            denominator = 2 * g2 + (activations * g3).sum(dim=(-2, -1), keepdim=True)
            denominator = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
            a = g2 / (denominator + self.eps)
        return (a * torch.relu(gradients)).sum(dim=(-2, -1))
