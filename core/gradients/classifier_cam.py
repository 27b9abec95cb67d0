"""The CAM family for image classifiers: one base that owns hooks, batching and upsampling.

Shapes: inputs (B, 3, S, S) float32 (``Preprocessing.to_tensor``: the whole image resized to
S × S); logits (B, C); target-layer activations A (B, K, h, w) (a ViT / Swin layer's tokens go
through the record's ``reshape`` first); N scores per sample from a target
(:mod:`core.gradients.cam_targets`); gradients g = ∂s/∂A (N, B, K, h, w); channel weights from a
weighting (:mod:`core.gradients.cam_weights`) (N, B, K); maps ReLU(Σ_k α_k A_k) (N, B, h, w) on
the layer grid, upsampled bilinearly to the input grid and min-max normalised per map
(N, B, S, S), and from there to an image's own (H, W) (:func:`to_image`): the preprocessing
resizes the whole image, so the input grid maps onto the image pixel for pixel. Arrays index
(row, col). When the target gives (B,) scores, the leading N is dropped from every result.

Methods (each a weighting and a default target, nothing else):

=========================  ==========================  ================================
class                      weighting                   default target
=========================  ==========================  ================================
GradCAM                    mean of g                   z_P ("why P?")
GradCAMPlusPlus            Grad-CAM++ (paper)          z_P
CounterfactualCAM          −(mean of g)                z_P ("what if it were absent?")
ContrastCAM                mean of g                   CE(z, Q), Q the second class
ContrastGradCAMPlusPlus    Grad-CAM++ (paper)          CE(z, Q)
=========================  ==========================  ================================

Batching: every score of every sample comes from one forward pass and one batched backward
(in cache-sized chunks of targets, see ``max_gradient_elements``; no loop over classes or
samples): the cotangents ∂s_n/∂z (N, B, C) are pushed through the network together as vector–
Jacobian products, ``torch.vmap`` over ``torch.autograd.grad`` (``is_grads_batched=True`` runs the
legacy vmap, which falls back to one batch-norm backward call per cotangent: 1,001 calls for
1,000 cotangents on resnet18, several times slower). The forward records a graph only from the
target layer on.

Closed form: when the head is a global average pool followed by a linear layer W (C × K),
z = W·mean_ij(A) + b, so for s = CE(z, Q): ∂s/∂z = p − e_Q and ∂s/∂A_kij = (Wᵀ(p − e_Q))_k/(hw)
= (Wᵀp − W_Q)_k/(hw), the same at every (i, j), so the Grad-CAM weight is α_Q = (Wᵀp − W_Q)/(hw);
in general g = (∂s/∂z)·W/(hw) for any target. Every map then comes from one forward pass and no
backward. The head is recognised (``closed_form=None``) when the last ``nn.Linear``'s input
equals the spatial mean of the (reshaped) target activations and its output is the logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.gradients.cam import minmax_normalise
from core.gradients.cam_targets import ClassTarget, ContrastTarget, Target
from core.gradients.cam_weights import GradCAMPlusPlusWeights, GradCAMWeights, NegatedWeights, Weighting
from core.models.classifier import ClassifierError, ClassifierRecord, final_linear, last_conv_layer

Reshape = Callable[[torch.Tensor], torch.Tensor]


def upsample(grid_maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(..., h, w) maps → (..., S_h, S_w): bilinear (half-pixel centres, as cv2.resize), then
    min-max normalised per map to [0, 1]. A constant map becomes zeros: it is normalised on the
    grid first (exact zeros), since interpolating a constant in float32 leaves rounding noise
    that a normalisation would blow up to [0, 1]."""
    flat = minmax_normalise(grid_maps.reshape(-1, 1, *grid_maps.shape[-2:]).float())
    resized = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return minmax_normalise(resized.reshape(*grid_maps.shape[:-2], *size))


def to_image(maps: torch.Tensor, image_size: tuple[int, int]) -> np.ndarray:
    """(..., S, S) input-grid maps in [0, 1] → (..., H, W) float32 numpy in [0, 1] for an image of
    ``image_size`` = (H, W): bilinear, antialiased when shrinking."""
    height, width = image_size
    flat = maps.reshape(-1, 1, *maps.shape[-2:]).float()
    shrinking = height < maps.shape[-2] or width < maps.shape[-1]
    resized = F.interpolate(flat, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return resized.reshape(*maps.shape[:-2], height, width).clamp(0, 1).cpu().numpy().astype(np.float32)


def score_cotangents(target: Target, logits: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """∂s_n/∂z for every score of ``target``: (B, C) logits → ((N, B, C), single) where single
    says the target gave (B,) scores (N = 1). One batched backward through the target alone."""
    with torch.enable_grad():
        z = logits.detach().requires_grad_(True)
        scores = target(z)
        if scores.ndim == 1:
            return torch.autograd.grad(scores.sum(), z)[0][None], True
        count, batch = scores.shape
        basis = torch.eye(count, dtype=scores.dtype, device=scores.device)[:, :, None].expand(count, count, batch)
        return torch.vmap(lambda v: torch.autograd.grad(scores, z, v, retain_graph=True)[0])(basis), False


@dataclass
class CamResult:
    """grid: (N, B, h, w) maps on the layer grid, ReLU'd, not normalised; weights: (N, B, K);
    logits: (B, C); input_size: (S, S); closed_form: whether the head's closed form replaced the
    backward. N is absent when the target gave one score per sample."""

    grid: torch.Tensor
    weights: torch.Tensor
    logits: torch.Tensor
    input_size: tuple[int, int]
    closed_form: bool

    def maps(self) -> torch.Tensor:
        """(N, B, S, S) float32 in [0, 1] on the input grid (upsampled, normalised per map)."""
        return upsample(self.grid, self.input_size)


@dataclass
class LayerPass:
    """One forward pass with the target layer captured; explain any number of targets from it.

    logits: (B, C); activations: (B, K, h, w) (reshaped); head: W (C, K) when the closed form
    applies, else None. Holds the graph from the target layer to the logits while alive."""

    logits: torch.Tensor
    activations: torch.Tensor
    input_size: tuple[int, int]
    head: torch.Tensor | None
    _graph_logits: torch.Tensor | None
    _leaf: torch.Tensor | None
    _reshape: Reshape | None

    def gradients(self, cotangents: torch.Tensor) -> torch.Tensor:
        """(n, B, C) cotangents ∂s/∂z → (n, B, K, h, w) gradients ∂s/∂A (an expanded view in
        closed form; one batched vector–Jacobian product otherwise)."""
        if self.head is not None:
            height, width = self.activations.shape[-2:]
            weights = cotangents @ self.head.to(cotangents) / (height * width)
            return weights[..., None, None].expand(*weights.shape, height, width)
        if self._graph_logits is None:
            raise ClassifierError("this pass was run without gradients: the head's closed form does not apply")
        def vector_jacobian(v: torch.Tensor) -> torch.Tensor:
            return torch.autograd.grad(self._graph_logits, self._leaf, v, retain_graph=True)[0]

        cotangents = cotangents.to(self._graph_logits)
        raw = vector_jacobian(cotangents[0])[None] if len(cotangents) == 1 else torch.vmap(vector_jacobian)(cotangents)
        if self._reshape is None:
            return raw
        return self._reshape(raw.flatten(0, 1)).unflatten(0, raw.shape[:2])


class _LayerHooks:
    """Forward hooks for one pass: capture the target layer's output (as a fresh leaf whose
    graph starts there, when ``with_graph``) and, to recognise a GAP + linear head, the last
    Linear's input and output."""

    def __init__(self, layer: nn.Module, linear: nn.Module | None, with_graph: bool) -> None:
        self.layer, self.linear, self.with_graph = layer, linear, with_graph
        self.outputs: list[torch.Tensor] = []
        self.leaf: torch.Tensor | None = None
        self.linear_io: tuple[torch.Tensor, torch.Tensor] | None = None

    def _on_layer(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if not torch.is_tensor(output):
            raise ClassifierError(f"the target layer {type(module).__name__} returns {type(output).__name__}, "
                                  "not a tensor: choose a layer with a tensor output")
        self.outputs.append(output.detach())
        if not self.with_graph:
            return None
        self.leaf = output.detach().requires_grad_(True)
        torch.set_grad_enabled(True)  # the graph starts here; the caller's no_grad restores the mode
        return self.leaf.clone()  # a non-leaf: later in-place ops (ReLU(inplace=True)) stay legal

    def _on_linear(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.linear_io = (args[0].detach(), output.detach())

    def __enter__(self) -> _LayerHooks:
        self.handles = [self.layer.register_forward_hook(self._on_layer)]
        if self.linear is not None:
            self.handles.append(self.linear.register_forward_hook(self._on_linear))
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self.handles:
            handle.remove()


class ClassifierCAM:
    """Base of the CAM family: hooks on ``target_layer`` (default: the model's last Conv2d),
    an optional ``reshape`` of its output to (B, K, h, w) (ViT: ``vit_reshape``, Swin:
    ``swin_reshape``), batching, the closed form, upsampling. A subclass only sets
    ``weighting`` and ``default_target``.

    closed_form: None (default) uses the GAP + linear head's closed form when the head is one,
    True requires it (ClassifierError otherwise), False always differentiates.
    max_gradient_elements: the gradients of at most this many elements (n·B·K·h·w) are held at
    once; more targets go through in chunks of n. Chunks that stay in cache are faster: 2²¹
    (8 MB) took 108 ms for resnet18's 1,000 contrasts on one thread, all at once 244 ms.
    The model must be in eval mode (batch statistics would couple the samples).
    """

    weighting: Weighting = GradCAMWeights()
    default_target: Callable[[], Target] = ClassTarget

    def __init__(self, model: nn.Module, target_layer: nn.Module | None = None, reshape: Reshape | None = None, *,
                 weighting: Weighting | None = None, closed_form: bool | None = None,
                 max_gradient_elements: int = 2 ** 21) -> None:
        self.model = model
        self.layer = target_layer if target_layer is not None else last_conv_layer(model)
        self.reshape = reshape
        if weighting is not None:
            self.weighting = weighting
        self.closed_form = closed_form
        self.max_gradient_elements = max_gradient_elements
        self._head_is_gap_linear: bool | None = None if closed_form is not False else False

    @classmethod
    def from_record(cls, record: ClassifierRecord, **options) -> ClassifierCAM:
        """The CAM of a loaded classifier, on its target layer (``record.layer()``) and reshape."""
        return cls(record.model, record.layer(), record.reshape, **options)

    def _linear(self) -> nn.Linear | None:
        try:
            return final_linear(self.model)
        except ClassifierError:
            return None

    def forward(self, inputs: torch.Tensor) -> LayerPass:
        """One forward pass of (B, 3, S, S) inputs with the target layer captured."""
        if self.model.training:
            raise ClassifierError(f"{type(self.model).__name__} is in training mode: call model.eval() first")
        known_closed = self._head_is_gap_linear is True
        linear = self._linear() if self._head_is_gap_linear is None else None
        with torch.no_grad(), _LayerHooks(self.layer, linear, with_graph=not known_closed) as hooks:
            logits = self.model(inputs)
        if len(hooks.outputs) != 1:
            raise ClassifierError(f"the target layer {type(self.layer).__name__} ran {len(hooks.outputs)} times in one "
                                  "forward pass: choose a layer that runs exactly once")
        activations = hooks.outputs[0] if self.reshape is None else self.reshape(hooks.outputs[0])
        if activations.ndim != 4:
            raise ClassifierError(f"the target layer's output is {tuple(activations.shape)}, not (B, K, h, w): "
                                  "give a reshape for token maps (vit_reshape, swin_reshape)")
        if self._head_is_gap_linear is None:
            self._head_is_gap_linear = _is_gap_linear(hooks.linear_io, activations, logits)
        if self.closed_form is True and not self._head_is_gap_linear:
            raise ClassifierError("closed_form=True needs a global-average-pool + linear head right after the "
                                  "target layer; this model's head is not one")
        head = final_linear(self.model).weight.detach() if self._head_is_gap_linear else None
        graph_logits = None if known_closed else logits
        return LayerPass(logits.detach(), activations.detach(), tuple(inputs.shape[-2:]), head,
                         graph_logits, hooks.leaf, self.reshape)

    def explain(self, layer_pass: LayerPass, target: Target | None = None) -> CamResult:
        """The maps of ``target`` (default: the method's own) from one pass: (N, B, h, w) grid maps."""
        target = target if target is not None else self.default_target()
        cotangents, single = score_cotangents(target, layer_pass.logits)
        activations = layer_pass.activations
        chunk = max(1, self.max_gradient_elements // max(1, activations.numel()))
        weights = torch.cat([self.weighting(activations, layer_pass.gradients(part))
                             for part in cotangents.split(chunk)])
        grid = torch.relu(torch.einsum("nbk,bkhw->nbhw", weights, activations))
        if single:
            grid, weights = grid[0], weights[0]
        return CamResult(grid, weights, layer_pass.logits, layer_pass.input_size, layer_pass.head is not None)

    def __call__(self, inputs: torch.Tensor, target: Target | None = None) -> CamResult:
        """Maps of ``target`` (default: the method's own) for (B, 3, S, S) inputs."""
        return self.explain(self.forward(inputs), target)


def _is_gap_linear(linear_io: tuple[torch.Tensor, torch.Tensor] | None, activations: torch.Tensor,
                   logits: torch.Tensor) -> bool:
    """Whether z = W·mean_ij(A) + b: the last Linear's input is the spatial mean of A (B, K, h, w)
    and its output is the logits (B, C)."""
    if linear_io is None:
        return False
    linear_input, linear_output = linear_io
    pooled = activations.mean(dim=(-2, -1))
    if linear_input.shape != pooled.shape or linear_output.shape != logits.shape:
        return False
    scale = 1e-5 * (1.0 + float(pooled.abs().max()))
    return bool(torch.allclose(linear_input, pooled, rtol=1e-4, atol=scale)
                and torch.allclose(linear_output, logits.detach(), rtol=1e-5, atol=1e-6))


class GradCAM(ClassifierCAM):
    """Grad-CAM, "why P?": s = z_P, α_k = mean_ij g_kij (slides and released code agree)."""


class GradCAMPlusPlus(ClassifierCAM):
    """Grad-CAM++, "why P?": s = z_P, weights of :class:`GradCAMPlusPlusWeights`; ``variant``
    "paper" (default) or "voice_code" (the released code's Σ A·g³ denominator)."""

    def __init__(self, *args, variant: Literal["paper", "voice_code"] = "paper", **options) -> None:
        options.setdefault("weighting", GradCAMPlusPlusWeights(variant))
        super().__init__(*args, **options)


class CounterfactualCAM(ClassifierCAM):
    """CounterfactualCAM, "what if this region were absent?": Grad-CAM with α negated."""

    weighting = NegatedWeights(GradCAMWeights())


class ContrastCAM(ClassifierCAM):
    """ContrastCAM, "why P, rather than Q?": s = CrossEntropy(z, Q), Grad-CAM weights; Q
    defaults to the second most likely class (pass ``ContrastTarget(q)`` or
    ``ContrastTargets(classes)`` for others; all in one backward)."""

    default_target = ContrastTarget


class ContrastGradCAMPlusPlus(GradCAMPlusPlus):
    """Contrastive Grad-CAM++: ContrastCAM's score CE(z, Q) with Grad-CAM++ weights (released
    code: ``Contrast_pp``, which is ``variant="voice_code"``)."""

    default_target = ContrastTarget


METHODS: dict[str, type[ClassifierCAM]] = {
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
    "counterfactual": CounterfactualCAM,
    "contrast": ContrastCAM,
    "contrast++": ContrastGradCAMPlusPlus,
}
