"""Targets of the CAM family: plain callables from a classifier's logits to the scores explained.

A target maps logits ``z`` (B, C) to scores: (B,) for one score per sample, or (N, B) for N
scores per sample that are explained together (all N in one batched backward, see
:mod:`core.gradients.classifier_cam`). Each score depends only on its own sample's logits.
Class indices are ints (the same class for every sample) or (B,) integer tensors (one per
sample); ``None`` picks a class from the logits themselves, as documented on each target.

The question each target answers (AlRegib & Prabhushankar, "Explanatory paradigms", 2022):

* :class:`ClassTarget` — "Why P?": s = z_P (Grad-CAM, Grad-CAM++).
* :class:`ContrastTarget` — "Why P, rather than Q?": s = CrossEntropy(z, Q) = logsumexp(z) − z_Q,
  so ∂s/∂z = p − e_Q (ContrastCAM, contrastive Grad-CAM++; VOICE's contrasts).
* :class:`MSEContrastTarget` — the same question for a regression head: s = mean_c (z_c − q_c)².
* CounterfactualCAM ("What if this region were absent?") is not a target but a weighting
  (Grad-CAM's weights negated, :class:`core.gradients.cam_weights.NegatedWeights`); for Grad-CAM
  it equals the target s = −z_P.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Target = Callable[[torch.Tensor], torch.Tensor]
"""(B, C) logits → (B,) or (N, B) scores."""

ClassIndex = int | torch.Tensor | None


def predicted_class(logits: torch.Tensor) -> torch.Tensor:
    """P = argmax z per sample: (B, C) → (B,) int64."""
    return logits.argmax(dim=-1)


def second_class(logits: torch.Tensor) -> torch.Tensor:
    """The second most likely class per sample (the default contrast Q): (B, C) → (B,) int64."""
    return logits.topk(2, dim=-1).indices[:, 1]


def _per_sample(classes: ClassIndex, logits: torch.Tensor,
                default: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """An int, a (B,) tensor or None (→ ``default(logits)``) as a (B,) int64 tensor on the logits' device."""
    if classes is None:
        return default(logits.detach())
    index = torch.as_tensor(classes, dtype=torch.long, device=logits.device)
    return index.expand(logits.shape[0]) if index.ndim == 0 else index


class ClassTarget:
    """s = z_c, "why c?" (Grad-CAM's score). ``classes``: int, (B,) tensor, or None for the
    predicted class P. Returns (B,)."""

    def __init__(self, classes: ClassIndex = None) -> None:
        self.classes = classes

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        index = _per_sample(self.classes, logits, predicted_class)
        return logits.gather(1, index[:, None])[:, 0]


class ContrastTarget:
    """s = CrossEntropy(z, Q) per sample, "why P, rather than Q?" (ContrastCAM's score).
    ``contrast``: int, (B,) tensor, or None for the second most likely class. Returns (B,)."""

    def __init__(self, contrast: ClassIndex = None) -> None:
        self.contrast = contrast

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        index = _per_sample(self.contrast, logits, second_class)
        return torch.logsumexp(logits, dim=-1) - logits.gather(1, index[:, None])[:, 0]


class ClassTargets:
    """N scores s_n = z_{c_n} for the classes ``classes`` (N,), the same for every sample:
    Grad-CAM of many classes in one backward. Returns (N, B)."""

    def __init__(self, classes: Sequence[int] | torch.Tensor) -> None:
        self.classes = torch.as_tensor(classes, dtype=torch.long)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, self.classes.to(logits.device)].T


class ContrastTargets:
    """N scores s_n = CrossEntropy(z, q_n) for the contrast classes ``classes`` (N,), the same
    for every sample: every ContrastCAM (and VOICE's contrasts) in one backward. Returns (N, B)."""

    def __init__(self, classes: Sequence[int] | torch.Tensor) -> None:
        self.classes = torch.as_tensor(classes, dtype=torch.long)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(logits, dim=-1)[None, :] - logits[:, self.classes.to(logits.device)].T


class MSEContrastTarget:
    """s = mean_c (z_c − q_c)² per sample: ContrastCAM for a regression head, "why this output,
    rather than q?". ``contrast``: (C,) or (B, C) target values. Returns (B,)."""

    def __init__(self, contrast: torch.Tensor) -> None:
        self.contrast = contrast

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        return (outputs - self.contrast.to(outputs)).pow(2).mean(dim=-1)


class StackedTargets:
    """Several targets explained in one backward: their scores stacked, (Σ N_i, B) (a (B,)
    target counts as N = 1). VOICE stacks "why P?" with every contrast "why P, rather than Q?"."""

    def __init__(self, *targets: Target) -> None:
        self.targets = targets

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        scores = [target(logits) for target in self.targets]
        return torch.cat([s[None] if s.ndim == 1 else s for s in scores])
