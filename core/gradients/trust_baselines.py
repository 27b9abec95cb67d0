"""Baseline trust / uncertainty scores of a classifier: from the logits, ODIN, MC dropout.

Every function returns a (B,) float tensor. Orientation (what a higher value means) is stated
on each and collected in core.gradients.trust_scores.SCORES. Natural logarithms throughout.

Notes on the released GradTrust code (olivesgatech/GradTrust, demo.py), whose comparison
columns differ from these definitions: its "NLL" passes raw logits to ``F.nll_loss``, so it is
the max logit (our ``max_logit``), not −log p_P; its MC-dropout column is −H(mean p) over 10
passes (our ``mcd_total``, negated); its ODIN uses T = 100 and ε = 0.0014 without dividing by
the normalisation std.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


def entropy_of(probabilities: torch.Tensor) -> torch.Tensor:
    """H(p) = −Σ_c p_c log p_c over the last axis (0 log 0 = 0): (..., C) → (...)."""
    return -torch.special.xlogy(probabilities, probabilities).sum(-1)


def msp(logits: torch.Tensor) -> torch.Tensor:
    """Maximum softmax probability max_c p_c. Higher = trust more."""
    return logits.softmax(-1).amax(-1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Predictive entropy H(p) ≥ 0. Higher = less sure."""
    return -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)


def margin(logits: torch.Tensor) -> torch.Tensor:
    """p₁ − p₂, the two largest probabilities (0 for a single class). Higher = trust more."""
    if logits.shape[-1] < 2:
        return torch.ones(logits.shape[:-1], dtype=logits.dtype, device=logits.device)
    top = logits.softmax(-1).topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]


def max_logit(logits: torch.Tensor) -> torch.Tensor:
    """max_c z_c. Higher = trust more."""
    return logits.amax(-1)


def nll(logits: torch.Tensor) -> torch.Tensor:
    """−log p_P of the predicted class P = argmax z (= −log MSP: ranks like MSP). Higher = less sure."""
    return -logits.log_softmax(-1).amax(-1)


def energy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Free energy E = −T logsumexp(z / T) (Liu et al. 2020). Higher = less sure (OOD has higher E)."""
    return -temperature * torch.logsumexp(logits / temperature, dim=-1)


def odin(model: nn.Module, inputs: torch.Tensor, std: tuple[float, float, float],
         temperature: float = 1000.0, epsilon: float = 0.0014) -> torch.Tensor:
    """ODIN (Liang et al. 2018): max softmax(z(x̃)/T) of the perturbed input
    x̃ = x − ε' · sign(∂ CE(z(x)/T, P)/∂x), P = argmax z(x). Higher = trust more.

    ``inputs`` (B, 3, S, S) are normalised; ε is in [0, 1] pixel units and becomes ε' = ε/std_c
    per channel, as in ODIN's own code. One batched backward: in eval mode each sample's loss
    depends on its input alone, so the gradient of the summed loss is per sample.
    """
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        loss = F.cross_entropy(logits / temperature, logits.argmax(-1), reduction="sum")
        (gradient,) = torch.autograd.grad(loss, x)
    step = epsilon / torch.tensor(std, dtype=inputs.dtype, device=inputs.device).view(1, 3, 1, 1)
    with torch.no_grad():
        perturbed = model(inputs - step * torch.sign(gradient))
    return (perturbed.float() / temperature).softmax(-1).amax(-1)


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The model's dropout modules (every torch.nn dropout type)."""
    return [module for module in model.modules() if isinstance(module, DROPOUT_TYPES)]


def mc_dropout(model: nn.Module, inputs: torch.Tensor, passes: int = 20, seed: int = 0,
               chunk_size: int = 256) -> dict[str, torch.Tensor]:
    """MC dropout (Gal & Ghahramani 2016) with M = ``passes`` stochastic forward passes.

    Only the dropout layers switch to train mode (BatchNorm keeps its running statistics); the M
    passes run as one batch of M·B inputs (``chunk_size`` inputs per call), each dropout mask
    drawn independently, under a private RNG seeded with ``seed``. Returns (B,) tensors, all
    higher = less sure: ``total`` H(mean_m p_m), ``aleatoric`` mean_m H(p_m), ``epistemic`` =
    total − aleatoric (the mutual information, ≥ 0 up to rounding). A model without dropout
    gives M identical passes: one pass is run and ``epistemic`` is exactly 0.
    """
    layers = dropout_layers(model)
    with torch.no_grad():
        if not layers:
            probabilities = model(inputs).float().softmax(-1)
            total = entropy_of(probabilities)
            return {"total": total, "aleatoric": total.clone(), "epistemic": torch.zeros_like(total)}
        states = [layer.training for layer in layers]
        devices = [inputs.device] if inputs.device.type == "cuda" else []
        try:
            for layer in layers:
                layer.train()
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                repeated = inputs.repeat(passes, *([1] * (inputs.ndim - 1)))
                logits = torch.cat([model(repeated[s:s + chunk_size]) for s in range(0, len(repeated), chunk_size)])
        finally:
            for layer, state in zip(layers, states):
                layer.train(state)
    probabilities = logits.float().softmax(-1).view(passes, inputs.shape[0], -1)
    total = entropy_of(probabilities.mean(0))
    aleatoric = entropy_of(probabilities).mean(0)
    return {"total": total, "aleatoric": aleatoric, "epistemic": total - aleatoric}
