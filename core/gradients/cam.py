"""The Grad-CAM family's shared arithmetic on activations and their gradients.

Activations ``A`` and gradients ``G`` are (..., K, h, w): K channels on an h×w grid, any
leading batch dimensions. Following pytorch-grad-cam's split, a method only decides how the
channel weights are computed; the weighted sum, ReLU and normalisation are shared here.
"""

from __future__ import annotations

import torch


def gradcam_weights(gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM channel weights α_k = mean over the grid of ∂s/∂A_k: (..., K, h, w) → (..., K)."""
    return gradients.mean(dim=(-2, -1))


def weighted_map(activations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """ReLU(Σ_k α_k A_k): (..., K, h, w) activations and (..., K) weights → (..., h, w)."""
    return torch.relu((weights[..., None, None] * activations).sum(dim=-3))


def gradcam(activations: torch.Tensor, gradients: torch.Tensor, counterfactual: bool = False) -> torch.Tensor:
    """Grad-CAM ("why this output?") or CounterfactualCAM ("what if this region were absent?",
    the weights negated) on an (h, w) grid: (..., K, h, w) → (..., h, w), not normalised."""
    weights = gradcam_weights(gradients)
    return weighted_map(activations, -weights if counterfactual else weights)


def minmax_normalise(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each (h, w) map of (..., h, w) scaled to [0, 1] by its own min and max; a constant map
    (no variation: the output did not depend on the input there) becomes all zeros."""
    flat = maps.flatten(start_dim=-2)
    low = flat.min(dim=-1).values[..., None, None]
    span = flat.max(dim=-1).values[..., None, None] - low
    return torch.where(span > eps, (maps - low) / span.clamp_min(eps), torch.zeros_like(maps))
