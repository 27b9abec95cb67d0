"""GradNorm and GradTrust: gradients of a loss of the logits with respect to the head weight W.

For a linear head z = W h + b (W: C × D, h: (D,) the head's input) and any loss L(z),
∂L/∂W = g hᵀ with g = ∂L/∂z, so each score below has a closed form in (z, h); the ``*_autograd``
twins compute the same numbers from per-sample gradients (torch.func: vmap over samples and
classes of ``grad``) and exist to test the closed forms and to serve heads they do not cover.
Only the weight W counts (not the bias), as in both papers' code. Shapes: logits (B, C),
features (B, D); every score is (B,).

GradNorm (Huang, Geng, Li 2021): L = KL(u ‖ softmax(z)) up to a constant = −(1/C) Σ_c log p_c
(T = 1), so g = p − 1/C and ‖∂L/∂W‖₁ = ‖g‖₁ ‖h‖₁ = ‖C·p − 1‖₁ ‖h‖₁ / C exactly. (The authors'
code sums over classes without the 1/C, which scales every score by C and ranks the same.)
Higher = trust more (in-distribution inputs have larger norms).

GradTrust, slide definition (the default, ``gradtrust``): trust = Var(∂L(z, e_P)/∂W) /
mean_{Q ∈ top-k, Q ≠ P} Var(∂L(z, e_Q)/∂W), Var over all C·D entries of the gradient, P the
prediction, Q the next k classes by logit. L is cross-entropy by default (the introspective-
learning lemma's J and ContrastCAM's s), MSE(z, e_Q) as an option. For an entry-wise outer
product, Var(g hᵀ) = mean(g²) mean(h²) − mean(g)² mean(h)²; with cross-entropy mean(g) = 0, so
the ratio is ‖p − e_P‖² / mean_Q ‖p − e_Q‖²: h cancels. Orientation, derived rather than assumed:
a confident prediction has a small gradient towards its own class, so the ratio falls towards
0 as p_P → 1 and rises towards 1 as P and the contrasts tie: **higher = less trust**.

GradTrust, released-code variant (``gradtrust_released``, olivesgatech/GradTrust demo.py):
L = MSE(z, 1/C) (mean over classes), G = ∂L/∂W = (2/C)(z − 1/C) hᵀ, score = max_c Var_d(G_cd²) /
mean_c Var_d(G_cd²) over the rows c of G. Row c of G² is (4/C²)(z_c − 1/C)² h², so
Var_d(G_cd²) = (16/C⁴)(z_c − 1/C)⁴ Var(h²) and the score is max_c u_c / mean_c u_c with
u = (z − 1/C)⁴: a function of the logits alone (when h² is not constant). Range [1, C];
higher = trust more (one dominant logit).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch.func import grad, vmap

ContrastLoss = Literal["ce", "mse"]


def gradnorm(logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """GradNorm in closed form: ‖C·p − 1‖₁ · ‖h‖₁ / C. Higher = trust more."""
    classes = logits.shape[-1]
    p = logits.double().softmax(-1)
    return ((classes * p - 1).abs().sum(-1) * features.double().abs().sum(-1) / classes).float()


def _uniform_nll(z: torch.Tensor) -> torch.Tensor:
    return -z.log_softmax(-1).mean(-1)


def gradnorm_autograd(weight: torch.Tensor, bias: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor:
    """GradNorm from per-sample autograd gradients ∂L/∂W (torch.func): ‖∂L/∂W‖₁. (B,)."""
    def loss(w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return _uniform_nll(F.linear(h, w, bias))

    gradients = vmap(grad(loss), in_dims=(None, 0))(weight.detach(), features)  # (B, C, D)
    return gradients.abs().sum((-2, -1))


def contrast_classes(logits: torch.Tensor, k: int) -> torch.Tensor:
    """(B, 1 + k') class indices: the prediction P, then the k' = min(k, C − 1) next classes by logit."""
    return logits.topk(min(k, logits.shape[-1] - 1) + 1, dim=-1).indices


def _logit_gradient(logits: torch.Tensor, targets: torch.Tensor, loss: ContrastLoss) -> torch.Tensor:
    """g = ∂L(z, e_t)/∂z for every target t: logits (B, C), targets (B, K) → (B, K, C)."""
    one_hot = F.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    if loss == "ce":
        return logits.softmax(-1).unsqueeze(1) - one_hot
    if loss == "mse":
        return 2.0 / logits.shape[-1] * (logits.unsqueeze(1) - one_hot)
    raise ValueError(f"unknown GradTrust loss {loss!r}; use 'ce' or 'mse'")


def _ratio(variances: torch.Tensor) -> torch.Tensor:
    """(B, 1 + k) variances, predicted class first → Var_P / mean_Q Var_Q."""
    return variances[:, 0] / variances[:, 1:].mean(-1)


def gradtrust(logits: torch.Tensor, features: torch.Tensor, k: int = 5, loss: ContrastLoss = "ce") -> torch.Tensor:
    """Slide GradTrust in closed form (see the module docstring). Higher = less trust."""
    z, h = logits.double(), features.double()
    g = _logit_gradient(z, contrast_classes(z, k), loss)  # (B, K, C)
    h2, hm = h.pow(2).mean(-1, keepdim=True), h.mean(-1, keepdim=True)
    variances = g.pow(2).mean(-1) * h2 - g.mean(-1).pow(2) * hm.pow(2)  # (B, K): Var over the C·D entries
    return _ratio(variances).float()


def gradtrust_autograd(weight: torch.Tensor, bias: torch.Tensor | None, features: torch.Tensor, k: int = 5,
                       loss: ContrastLoss = "ce") -> torch.Tensor:
    """Slide GradTrust from per-sample, per-class autograd gradients (vmap over samples and the
    1 + k classes of ``grad``): Var over the entries of each (C, D) gradient. (B,)."""
    logits = F.linear(features, weight, bias).detach()
    targets = F.one_hot(contrast_classes(logits, k), logits.shape[-1]).to(logits.dtype)  # (B, K, C)

    def one(w: torch.Tensor, h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        z = F.linear(h, w, bias)
        if loss == "ce":
            return -(target * z.log_softmax(-1)).sum()
        return (z - target).pow(2).mean()

    per_class = vmap(grad(one), in_dims=(None, None, 0))
    gradients = vmap(per_class, in_dims=(None, 0, 0))(weight.detach(), features, targets)  # (B, K, C, D)
    return _ratio(gradients.flatten(-2).var(-1, unbiased=False))


def gradtrust_released(logits: torch.Tensor) -> torch.Tensor:
    """Released-code GradTrust in closed form: max_c u_c / mean_c u_c, u = (z − 1/C)⁴. Higher = trust more."""
    u = (logits.double() - 1.0 / logits.shape[-1]).pow(4)
    return (u.amax(-1) / u.mean(-1)).float()


def gradtrust_released_autograd(weight: torch.Tensor, bias: torch.Tensor | None,
                                features: torch.Tensor) -> torch.Tensor:
    """Released-code GradTrust from per-sample autograd gradients G = ∂MSE(z, 1/C)/∂W: the rows'
    variances (unbiased, as ``torch.var``) of G², max over mean. (B,)."""
    classes = weight.shape[0]

    def loss(w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        z = F.linear(h, w, bias)
        return (z - 1.0 / classes).pow(2).mean()

    gradients = vmap(grad(loss), in_dims=(None, 0))(weight.detach(), features)  # (B, C, D)
    row_variances = gradients.pow(2).var(-1)
    return row_variances.amax(-1) / row_variances.mean(-1)
