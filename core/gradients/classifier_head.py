"""One forward pass that also keeps the classification head's input: z = W h + b.

The head is :func:`core.models.classifier.final_linear` (the last ``nn.Linear``). GradNorm and
both GradTrust variants need only h and z: the gradient of any loss of z with respect to W is
the outer product (∂L/∂z) hᵀ, so these scores have closed forms (core.gradients.gradient_trust).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models.classifier import ClassifierError, final_linear


@dataclass
class HeadPass:
    """logits: (B, C) float32; features: (B, D) float32, the head's input h; head: the layer."""

    logits: torch.Tensor
    features: torch.Tensor
    head: nn.Linear


def forward_with_head(model: nn.Module, inputs: torch.Tensor) -> HeadPass:
    """Run ``model`` on (B, 3, S, S) ``inputs`` without gradients, keeping the head's input.

    Raises ClassifierError when the model has no Linear head, is TorchScript (no hooks), or its
    last Linear does not produce the logits directly as (B, D) → (B, C).
    """
    if isinstance(model, torch.jit.ScriptModule):
        raise ClassifierError("a TorchScript classifier cannot be hooked: the gradient trust scores need the "
                              "model as a torch.nn.Module (load it by architecture name with its weights)")
    head = final_linear(model)
    seen: dict[str, torch.Tensor] = {}

    def keep(_module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        seen["features"], seen["output"] = args[0], output

    handle = head.register_forward_hook(keep)
    try:
        with torch.no_grad():
            logits = model(inputs)
    finally:
        handle.remove()
    if "features" not in seen:
        raise ClassifierError(f"the last Linear layer of {type(model).__name__} was not called in forward")
    features, output = seen["features"], seen["output"]
    if features.ndim != 2 or output.shape != logits.shape or not torch.equal(output, logits):
        raise ClassifierError(f"the last Linear layer of {type(model).__name__} does not produce the logits "
                              f"(it maps {tuple(features.shape)} → {tuple(output.shape)}, the model returns "
                              f"{tuple(logits.shape)}): GradNorm and GradTrust need logits = head(h), h (B, D)")
    return HeadPass(logits.detach().float(), features.detach().float(), head)
