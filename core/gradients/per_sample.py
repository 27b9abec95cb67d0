"""Per-sample parameter gradients with torch.func: one vmap over ``grad(functional_call)``.

A batch of B inputs gives, for every differentiated parameter θ of shape S, a (B, *S) tensor of
∂L_b/∂θ, where L_b is a scalar loss of sample b's own logits. The model runs in its current
mode (eval: BatchNorm uses its running statistics and dropout is off, so samples are
independent and vmap applies). :func:`per_sample_layer_norms` reduces the gradients to one
squared L2 norm per layer (module) chunk by chunk, so memory stays near
``chunk_size × parameters`` floats whatever the batch size.

:func:`per_sample_gradients_loop` is the plain reference: one forward and one backward per
sample. Tests check the two agree; bench/bench_per_sample_gradients.py times them. On CPUs
vmap runs convolution weight gradients as grouped convolutions, slowly; the Purview features
use core.gradients.layer_gradients (one batched pass) and come here only for the parameters
that path has no rule for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

LossOfLogits = Callable[[torch.Tensor], torch.Tensor]  # one sample's (C,) logits → scalar loss
DEFAULT_CHUNK_BYTES = 256 * 1024**2  # per-sample gradients held at once, at most (about)


def layer_of(parameter_name: str) -> str:
    """The layer (module) a parameter belongs to: ``features.0.weight`` → ``features.0``;
    a parameter of the root module keeps its own name."""
    return parameter_name.rsplit(".", 1)[0] if "." in parameter_name else parameter_name


def differentiated(model: nn.Module, names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """The parameters to differentiate, by name (all that require grad when ``names`` is None)."""
    parameters = dict(model.named_parameters())
    if names is None:
        return {name: p for name, p in parameters.items() if p.requires_grad}
    missing = [name for name in names if name not in parameters]
    if missing:
        raise KeyError(f"{type(model).__name__} has no parameter {', '.join(missing)}")
    return {name: parameters[name] for name in names}


def _per_sample_function(model: nn.Module, loss: LossOfLogits, names: list[str]):
    """vmap(grad) of sample → loss, returning (gradients by name, logits) for a chunk."""
    others = {name: p.detach() for name, p in model.named_parameters() if name not in set(names)}
    buffers = dict(model.named_buffers())

    def one(params: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = functional_call(model, (params, others, buffers), (x.unsqueeze(0),))[0]
        return loss(logits), logits

    return vmap(grad(one, has_aux=True), in_dims=(None, 0))


def auto_chunk_size(parameters: dict[str, torch.Tensor], budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Samples per vmap call so that the per-sample gradients fit in about ``budget_bytes``."""
    count = sum(p.numel() for p in parameters.values())
    return max(1, budget_bytes // max(1, 4 * count))


def per_sample_gradients(model: nn.Module, inputs: torch.Tensor, loss: LossOfLogits,
                         names: Sequence[str] | None = None,
                         chunk_size: int | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """∂loss(z_b)/∂θ for every sample b of ``inputs`` (B, ...) and every differentiated θ.

    Returns (name → (B, *θ.shape) gradients, (B, C) logits), both detached.
    """
    parameters = differentiated(model, names)
    params = {name: p.detach() for name, p in parameters.items()}
    function = _per_sample_function(model, loss, list(params))
    chunk = chunk_size or auto_chunk_size(params)
    gradients: dict[str, list[torch.Tensor]] = {name: [] for name in params}
    logits = []
    for start in range(0, inputs.shape[0], chunk):
        chunk_gradients, chunk_logits = function(params, inputs[start:start + chunk])
        for name, value in chunk_gradients.items():
            gradients[name].append(value.detach())
        logits.append(chunk_logits.detach())
    return {name: torch.cat(values) for name, values in gradients.items()}, torch.cat(logits)


def per_sample_layer_norms(model: nn.Module, inputs: torch.Tensor, loss: LossOfLogits,
                           names: Sequence[str] | None = None,
                           chunk_size: int | None = None) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Per-sample squared L2 norm of ∂loss/∂θ summed over each layer's parameters.

    Returns ((B, L) norms, the L layer names in registration order, (B, C) logits).
    """
    parameters = differentiated(model, names)
    params = {name: p.detach() for name, p in parameters.items()}
    layers = list(dict.fromkeys(layer_of(name) for name in params))
    column = {layer: i for i, layer in enumerate(layers)}
    function = _per_sample_function(model, loss, list(params))
    chunk = chunk_size or auto_chunk_size(params)
    norms, logits = [], []
    for start in range(0, inputs.shape[0], chunk):
        chunk_gradients, chunk_logits = function(params, inputs[start:start + chunk])
        out = torch.zeros(chunk_logits.shape[0], len(layers), dtype=torch.float64, device=inputs.device)
        for name, value in chunk_gradients.items():
            out[:, column[layer_of(name)]] += value.detach().reshape(value.shape[0], -1).double().pow(2).sum(1)
        norms.append(out)
        logits.append(chunk_logits.detach())
    return torch.cat(norms), layers, torch.cat(logits)


def per_sample_gradients_loop(model: nn.Module, inputs: torch.Tensor, loss: LossOfLogits,
                              names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """The reference: one forward and one ``torch.autograd.grad`` per sample (slow; tests, bench).

    Returns name → (B, *θ.shape) gradients, like :func:`per_sample_gradients`.
    """
    parameters = differentiated(model, names)
    out: dict[str, list[torch.Tensor]] = {name: [] for name in parameters}
    for b in range(inputs.shape[0]):
        value = loss(model(inputs[b:b + 1])[0])
        for name, gradient in zip(parameters, torch.autograd.grad(value, list(parameters.values()))):
            out[name].append(gradient.detach())
    return {name: torch.stack(values) for name, values in out.items()}
