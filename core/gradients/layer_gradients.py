"""Per-sample, per-layer squared gradient norms from one batched forward and backward.

Why not only torch.func: ``vmap(grad(functional_call))`` (core.gradients.per_sample) turns
every convolution's weight gradient into a grouped convolution with one group per sample, which
the CPU kernels run far slower than a batched backward (a random resnet18 at 64 px, batch 8,
2 CPU threads: ~700–900 ms per image under vmap, ~380 ms in a plain per-sample loop, ~80 ms for
a batched forward + backward). So for the layers below the per-sample gradient is computed from
what one batched pass already has: each layer's input a_b and the gradient g_b of
Σ_b L_b with respect to its output (in eval mode samples are independent, so this is ∂L_b/∂out_b):

* Linear: ∂L_b/∂W = Σ_t g_bt a_btᵀ, ∂L_b/∂bias = Σ_t g_bt (t: any middle axes, e.g. tokens);
* Conv2d (zeros / 'same' / 'valid' padding, any stride, dilation, groups): the same with a = the
  input patches, one kernel offset at a time (or unfolded, when the output is small);
* BatchNorm in eval mode, LayerNorm, GroupNorm: ∂L_b/∂γ = Σ g_b x̂_b, ∂L_b/∂β = Σ g_b, x̂ the
  normalised input (running statistics for BatchNorm, per-sample statistics otherwise).

The squared norm of Σ_t g_t a_tᵀ is taken either from the materialised (B, out, in) gradient or,
when cheaper (few positions t), as Σ_{t,t'} (g_t·g_t')(a_t·a_t') ("ghost norm"). Every other
parameter (other layer types, a module called more than once or never — nn.MultiheadAttention
uses its out_proj's weight without calling it —, tied weights, parameters of a
non-layer module such as a ViT's class token) goes through the torch.func path, so the result
covers every parameter. One assumption: a supported layer's parameters are used only inside
that layer's own forward (true of torchvision's models; a parent calling ``F.linear(x,
self.fc.weight)`` itself would be missed). Tests check both paths against a per-sample loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.gradients.per_sample import LossOfLogits, differentiated, layer_of, per_sample_layer_norms

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _conv_padding(module: nn.Conv2d) -> tuple[int, int, int, int] | None:
    """F.pad amounts (left, right, top, bottom) of a zeros-padded Conv2d, or None when unsupported."""
    if module.padding_mode != "zeros":
        return None
    if module.padding == "valid":
        return 0, 0, 0, 0
    if module.padding == "same":
        total_h = module.dilation[0] * (module.kernel_size[0] - 1)
        total_w = module.dilation[1] * (module.kernel_size[1] - 1)
        return total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2
    ph, pw = module.padding
    return pw, pw, ph, ph


def supported(module: nn.Module) -> bool:
    """Whether a module's own parameters have a rule here."""
    if isinstance(module, nn.Linear) or isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        return True
    if isinstance(module, nn.Conv2d):
        return _conv_padding(module) is not None
    if isinstance(module, NORMS):
        return not module.training and module.running_mean is not None
    return False


def _outer_norm(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """‖Σ_t g_t a_tᵀ‖² per sample and group: a (B, G, I, T), g (B, G, O, T) → (B,), the cheaper way."""
    _, _, inputs, positions = a.shape
    outputs = g.shape[2]
    if positions * (inputs + outputs) < inputs * outputs:  # ghost norm: T × T Gram matrices
        gram = torch.einsum("bgit,bgis->bgts", a, a) * torch.einsum("bgot,bgos->bgts", g, g)
        return gram.sum((1, 2, 3), dtype=torch.float64)
    return torch.einsum("bgot,bgit->bgoi", g, a).pow(2).sum((1, 2, 3), dtype=torch.float64)


def _conv_weight_norm(module: nn.Conv2d, padded: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """‖∂L_b/∂W‖² of a Conv2d from its zero-padded input (B, Cin, H, W) and output gradient (B, Cout, h, w).

    The gradient's entries for different kernel offsets (ky, kx) are disjoint, so their squared
    norms add up; F.unfold (slow on CPUs) is never called:

    * few output positions: the patches from kh·kw strided views, then the ghost norm;
    * stride 1, one group: per offset, one batched matrix product of g laid out on the padded
      grid (zeros outside the output) with the flattened input shifted by the offset: a view,
      no copy (the flat index of input pixel (h + ky·dy, w + kx·dx) is that of (h, w) plus a
      constant);
    * otherwise: per offset, the strided view of the input, copied, in a batched product.
    """
    batch, groups = padded.shape[0], module.groups
    (kh, kw), (dy, dx), (sy, sx) = module.kernel_size, module.dilation, module.stride
    (height, width), (out_h, out_w) = padded.shape[2:], g.shape[2:]
    grad = g.reshape(batch, groups, -1, out_h * out_w)  # (B, G, O, L)
    per_group_in = padded.shape[1] // groups
    positions, inputs, outputs = out_h * out_w, per_group_in * kh * kw, grad.shape[2]
    offsets = [(ky * dy, kx * dx) for ky in range(kh) for kx in range(kw)]
    total = torch.zeros(batch, dtype=torch.float64, device=padded.device)
    if positions * (inputs + outputs) < inputs * outputs:
        windows = [padded[:, :, y: y + sy * (out_h - 1) + 1: sy, x: x + sx * (out_w - 1) + 1: sx] for y, x in offsets]
        cols = torch.stack(windows, dim=2).reshape(batch, groups, inputs, positions)  # im2col, (c, ky, kx) order
        return _outer_norm(cols, grad)
    if (sy, sx) == (1, 1) and groups == 1:
        flat = padded.reshape(batch, padded.shape[1], height * width)
        span = (out_h - 1) * width + out_w
        on_grid = F.pad(g, (0, width - out_w)).reshape(batch, g.shape[1], out_h * width)[:, :, :span]
        for y, x in offsets:
            shift = y * width + x
            total += torch.bmm(on_grid, flat[:, :, shift: shift + span].transpose(1, 2)).pow(2).sum(
                (1, 2), dtype=torch.float64)
        return total
    for y, x in offsets:
        window = padded[:, :, y: y + sy * (out_h - 1) + 1: sy, x: x + sx * (out_w - 1) + 1: sx]
        window = window.reshape(batch, groups, per_group_in, positions)  # (B, G, I, L)
        total += torch.einsum("bgol,bgil->bgoi", grad, window).pow(2).sum((1, 2, 3), dtype=torch.float64)
    return total


def _norm_stats(module: nn.Module, a: torch.Tensor) -> torch.Tensor:
    """x̂: the normalised input of a BatchNorm (eval), LayerNorm or GroupNorm."""
    if isinstance(module, NORMS):
        shape = (1, -1) + (1,) * (a.ndim - 2)
        return (a - module.running_mean.view(shape)) / torch.sqrt(module.running_var.view(shape) + module.eps)
    if isinstance(module, nn.LayerNorm):
        dims = tuple(range(a.ndim - len(module.normalized_shape), a.ndim))
        mean, var = a.mean(dims, keepdim=True), a.var(dims, unbiased=False, keepdim=True)
        return (a - mean) / torch.sqrt(var + module.eps)
    grouped = a.reshape(a.shape[0], module.num_groups, -1)
    mean, var = grouped.mean(-1, keepdim=True), grouped.var(-1, unbiased=False, keepdim=True)
    return ((grouped - mean) / torch.sqrt(var + module.eps)).reshape(a.shape)


def layer_norm_squared(module: nn.Module, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Σ over the module's parameters of ‖∂L_b/∂θ‖², from input a and output gradient g: (B,)."""
    a, g = a.detach(), g.detach()
    batch = a.shape[0]
    total = torch.zeros(batch, dtype=torch.float64, device=a.device)  # the sums in float64; products in a's dtype
    if isinstance(module, nn.Linear):
        a3, g3 = a.reshape(batch, -1, a.shape[-1]), g.reshape(batch, -1, g.shape[-1])
        total += _outer_norm(a3.transpose(1, 2)[:, None], g3.transpose(1, 2)[:, None])
        if module.bias is not None:
            total += g3.sum(1).pow(2).sum(1, dtype=torch.float64)
        return total
    if isinstance(module, nn.Conv2d):
        left, right, top, bottom = _conv_padding(module)
        padded = F.pad(a, (left, right, top, bottom)) if (left or right or top or bottom) else a
        total += _conv_weight_norm(module, padded, g)
        if module.bias is not None:
            total += g.flatten(2).sum(-1).pow(2).sum(1, dtype=torch.float64)
        return total
    normalised = _norm_stats(module, a)
    if isinstance(module, nn.LayerNorm):
        reduce = tuple(range(1, a.ndim - len(module.normalized_shape)))
        weight_grad = (g * normalised).sum(reduce) if reduce else g * normalised
        bias_grad = g.sum(reduce) if reduce else g
    else:  # per channel (axis 1): BatchNorm, GroupNorm
        reduce = tuple(range(2, a.ndim))
        weight_grad = (g * normalised).sum(reduce) if reduce else g * normalised
        bias_grad = g.sum(reduce) if reduce else g
    if getattr(module, "weight", None) is not None:
        total += weight_grad.flatten(1).pow(2).sum(1, dtype=torch.float64)
    if getattr(module, "bias", None) is not None:
        total += bias_grad.flatten(1).pow(2).sum(1, dtype=torch.float64)
    return total


def _hooked_layers(model: nn.Module, wanted: set[str]) -> dict[str, nn.Module]:
    """Modules whose own parameters are all wanted, have a rule and belong to no other module
    (tied weights go through torch.func), by layer name."""
    owners: dict[int, int] = {}
    for module in model.modules(remove_duplicate=False):
        for parameter in module.parameters(recurse=False):
            owners[id(parameter)] = owners.get(id(parameter), 0) + 1
    out = {}
    for name, module in model.named_modules():
        own = [(f"{name}.{p}" if name else p, value) for p, value in module.named_parameters(recurse=False)]
        if (own and all(p in wanted and owners[id(value)] == 1 for p, value in own) and supported(module)):
            out[name] = module
    return out


def batched_layer_norms(model: nn.Module, inputs: torch.Tensor, loss: LossOfLogits,
                        names: Sequence[str] | None = None,
                        chunk_size: int | None = None) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Per-sample squared L2 norm of ∂loss/∂θ per layer, like core.gradients.per_sample.per_sample_layer_norms
    (same layers, same order, same values) but from one batched pass for the supported layers.

    Returns ((B, L) float64 norms, L layer names, (B, C) logits).
    """
    parameters = differentiated(model, names)
    layers = list(dict.fromkeys(layer_of(name) for name in parameters))
    hooked = _hooked_layers(model, set(parameters))
    rest = [name for name in parameters if layer_of(name) not in hooked]
    chunk = chunk_size or inputs.shape[0]
    norms, logits = [], []
    for start in range(0, inputs.shape[0], chunk):
        part_norms, part_logits, others = _hooked_pass(model, inputs[start:start + chunk], loss, hooked, layers)
        norms.append(part_norms)
        logits.append(part_logits)
        rest += [name for name in parameters if layer_of(name) in others and name not in rest]
    out, logits_all = torch.cat(norms), torch.cat(logits)
    if rest:  # everything without a rule: the torch.func path, for those parameters only
        rest_norms, rest_layers, _ = per_sample_layer_norms(model, inputs, loss, rest, chunk_size)
        for i, layer in enumerate(rest_layers):
            out[:, layers.index(layer)] = rest_norms[:, i]
    return out, layers, logits_all


def _hooked_pass(model: nn.Module, x: torch.Tensor, loss: LossOfLogits, hooked: dict[str, nn.Module],
                 layers: list[str]) -> tuple[torch.Tensor, torch.Tensor, set[str]]:
    """One batched forward with hooks and one backward (to the input, so no parameter gradient is
    formed); the hooked layers' per-sample norms, the logits, and the layers to do by torch.func."""
    calls: dict[str, list[dict[str, torch.Tensor]]] = {name: [] for name in hooked}

    def hook_for(name: str):
        def keep(_module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            entry = {"input": args[0]}
            calls[name].append(entry)
            if output.requires_grad:  # a tensor hook sees ∂/∂output even if a later op changes it in place
                output.register_hook(lambda grad: entry.__setitem__("grad", grad))

        return keep

    handles = [module.register_forward_hook(hook_for(name)) for name, module in hooked.items()]
    try:
        with torch.enable_grad():
            inputs = x.detach().requires_grad_(True)
            logits = model(inputs)
            torch.autograd.grad(torch.vmap(loss)(logits).sum(), inputs)  # fires the hooks; no parameter grads
    finally:
        for handle in handles:
            handle.remove()
    norms = torch.zeros(x.shape[0], len(layers), dtype=torch.float64, device=x.device)
    for name, entries in calls.items():
        if len(entries) == 1 and "grad" in entries[0]:
            norms[:, layers.index(name)] = layer_norm_squared(hooked[name], entries[0]["input"], entries[0]["grad"])
    others = {name for name, pairs in calls.items() if len(pairs) != 1}  # called twice, or never (MHA's out_proj)
    return norms, logits.detach(), others
