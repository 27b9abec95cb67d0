"""Explanation and uncertainty maps for one of SAM's masks, from gradients at inference.

From the cached image embedding and a prompt set, :func:`compute_sam_maps` returns
(H, W) float32 maps in [0, 1], aligned pixel for pixel with the mask (mapped back from SAM's
grid exactly as ``Sam.postprocess_masks`` maps the mask: into the padded input frame, crop,
resize), and scalar summaries. All of it costs two decoder calls (one with gradients, one
batch of prompt variants) and a few backward passes through the decoder alone.

Maps (``MAPS`` lists them with a line each for the app):

* ``gradcam``: Grad-CAM of the chosen mask on the image tokens A after the decoder's last
  two-way block (:mod:`core.gradients.image_tokens`): s = the mask's low-res logits summed
  over the pixels where it is on. ``counterfactual``: the same with negated weights.
* ``contrast_output_<k>``, ``contrast_empty``, ``contrast_previous``: ContrastCAM, "why this
  mask rather than Q": s = mean BCE-with-logits(mask logits, Q) for Q another multimask
  output, the empty mask, or the previous timestep's mask.
* ``voice``: VOICE's explanation uncertainty, the per-pixel variance of the (normalised)
  contrast maps; scalars ``voice_iou`` = IoU(gradcam > 0.1, voice > 0.1) (higher: the
  explanation is less trustworthy) and ``voice_snr`` = mean / std of the voice map.
* ``gradient_energy``: Purview-style gradient uncertainty: L = mean BCE-with-logits(mask
  logits, all ones), the confounding label; the map is ‖∂L/∂A‖² over channels per location;
  scalars ``purview_total`` and ``purview.<layer>``: squared L2 norms of ∂L/∂θ per decoder layer.
* ``intervention_total`` / ``_aleatoric`` / ``_epistemic``: prompt-intervention uncertainty:
  each point jittered (``jitter`` sets) and each point left out once, all in one decoder call;
  per pixel the binary entropy (bits) of the mean foreground probability (total), the mean
  entropy (aleatoric), their difference (epistemic). Entropies are in bits, already in [0, 1]:
  not rescaled.
* ``logit_entropy``: binary entropy (bits) of the mask's own probability (a baseline map);
  ``candidate_disagreement``: the variance of SAM's three candidate masks per pixel, ×4.

Scalars beside them: SAM's ``predicted_iou``, ``stability_score`` (IoU of the mask thresholded
at logit ±1, as SAM's automatic mask generator computes it), ``candidate_disagreement`` (1 −
mean pairwise IoU of the three candidates), the entropy maps' mass relative to the mask's
area (``logit_entropy``, ``intervention_total``, …; 0.1 = uncertain pixels worth a tenth of the
mask), ``intervention_disagreement`` (1 − mean IoU of the variants' masks with the mask) and
``gradient_energy`` (the energy map's sum before normalisation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.utils.amg import calculate_stability_score

from core.gradients.cam import gradcam, minmax_normalise
from core.gradients.image_tokens import DecoderPass, decode_with_image_tokens
from core.models.embedding_cache import ImageEmbedding
from core.models.prompt_decoding import decode_low_res
from core.models.sam_engine import SamEngine

MAPS = {
    "gradcam": "Explanation: what drives this mask (Grad-CAM)",
    "counterfactual": "Counterfactual: what speaks against this mask",
    "contrast_output_0": "Why this mask rather than candidate 1",
    "contrast_output_1": "Why this mask rather than candidate 2",
    "contrast_output_2": "Why this mask rather than candidate 3",
    "contrast_empty": "Why this mask rather than nothing",
    "contrast_previous": "Why this mask rather than the previous one",
    "voice": "Explanation uncertainty (VOICE: variance of the contrasts)",
    "gradient_energy": "Gradient uncertainty (Purview: confounding-label gradients)",
    "intervention_total": "Prompt-intervention uncertainty: total",
    "intervention_aleatoric": "Prompt-intervention uncertainty: aleatoric",
    "intervention_epistemic": "Prompt-intervention uncertainty: epistemic",
    "logit_entropy": "Baseline: entropy of the mask's own probability",
    "candidate_disagreement": "Baseline: disagreement of SAM's three candidates",
}
UNCERTAINTY_MAPS = ("voice", "gradient_energy", "intervention_total", "intervention_aleatoric",
                    "intervention_epistemic", "logit_entropy", "candidate_disagreement")
VOICE_THRESHOLD = 0.1


class MapsCancelled(Exception):
    """Raised between stages when ``cancelled()`` says the maps are no longer wanted."""


@dataclass
class SamMaps:
    """maps: name → (H, W) float32 in [0, 1]; scalars: name → float (see the module docstring);
    chosen: the multimask output (0..2) the maps explain; mask: its (H, W) bool mask."""

    maps: dict[str, np.ndarray]
    scalars: dict[str, float]
    chosen: int
    mask: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MapOptions:
    """jitter: prompt sets with every point moved by N(0, (jitter_fraction · longer side)²) px;
    leave_one_out: also each point dropped once (with 2 points or more); seed: the jitter's;
    variants_per_call: split the variants' decoder call so that a cancellation is seen sooner
    (the app on a CPU, where one call of all variants costs several decodes and batching gains
    little: 1.4× for the tiny SAM, 1.0× for ViT-B in bench/bench_sam_maps.py)."""

    jitter: int = 4
    jitter_fraction: float = 0.02
    leave_one_out: bool = True
    seed: int = 0
    variants_per_call: int = 0  # 0: all prompt variants in one decoder call; n: n per call, cancellable between


def to_image(sam, grid_maps: torch.Tensor, embedding: ImageEmbedding) -> torch.Tensor:
    """(K, h, w) maps on any grid of SAM's padded input frame (the g×g token grid, the 4g×4g
    low-res logits) → (K, H, W) at image size, as ``postprocess_masks`` maps the masks."""
    return sam.postprocess_masks(grid_maps[None].float(), embedding.input_size, embedding.original_size)[0]


def binary_entropy(probability: torch.Tensor) -> torch.Tensor:
    """Entropy in bits of Bernoulli probabilities, elementwise (0 at 0 and 1)."""
    p = probability.clamp(1e-7, 1 - 1e-7)
    return -(p * torch.log2(p) + (1 - p) * torch.log2(1 - p))


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def _layer(name: str) -> str:
    """The decoder layer a parameter belongs to, e.g. ``transformer.layers.1``, ``output_upscaling``."""
    parts = name.split(".")
    if parts[0] == "transformer" and parts[1] == "layers":
        return ".".join(parts[:3])
    if parts[0] in ("transformer", "output_hypernetworks_mlps"):
        return ".".join(parts[:2])
    return parts[0]


def _score_gradients(low_res: torch.Tensor, chosen: int, contrasts: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """∂s/∂(low-res logits) of every score, in closed form, each shaped like ``low_res`` (1, M, S, S).

    gradcam: s = Σ z·[z > 0] → [z > 0]; contrast_Q: s = mean BCE(z, Q) → (σ(z) − Q)/n;
    purview: s = mean BCE(z, 1) → (σ(z) − 1)/n; z the chosen output's logits.
    """
    z = low_res[0, chosen].detach()
    n = z.numel()
    probability = torch.sigmoid(z)

    def on_chosen(values: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(low_res)
        out[0, chosen] = values
        return out

    gradients = {"gradcam": on_chosen((z > 0).float()), "purview": on_chosen((probability - 1) / n)}
    for name, target in contrasts.items():
        gradients[name] = on_chosen((probability - target) / n)
    return gradients


def _contrast_targets(low_res: torch.Tensor, chosen: int, previous: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Contrast masks Q at low resolution (S, S) floats: the other candidates, empty, previous."""
    targets = {f"contrast_output_{k}": (low_res[0, k].detach() > 0).float()
               for k in range(low_res.shape[1]) if k != chosen}
    targets["contrast_empty"] = torch.zeros_like(low_res[0, chosen])
    if previous is not None:
        targets["contrast_previous"] = (previous.to(low_res.device).float() > 0).float()
    return targets


def _check(cancelled: Callable[[], bool]) -> None:
    if cancelled():
        raise MapsCancelled


def _gradient_stage(sam, embedding: ImageEmbedding, coords, labels, chosen: int,
                    previous_low_res: torch.Tensor | None,
                    cancelled: Callable[[], bool] = lambda: False) -> tuple[DecoderPass, dict, dict, dict]:
    """One decoder call with gradients and one backward per score: grid maps, energy, layer norms.
    ``cancelled`` is asked after the forward pass and after each backward."""
    decoded = decode_with_image_tokens(sam, embedding.features, coords, labels, parameter_gradients=True)
    _check(cancelled)
    contrasts = _contrast_targets(decoded.low_res, chosen, previous_low_res)
    score_gradients = _score_gradients(decoded.low_res, chosen, contrasts)
    activations = decoded.image_tokens[0]  # (C, g, g)
    grid_maps, token_gradients = {}, {}
    for name, grad_output in score_gradients.items():
        if name != "purview":  # one backward each through the decoder's last block and upscaling
            (tokens_gradient,) = torch.autograd.grad(decoded.low_res, decoded.tokens, grad_output, retain_graph=True)
            token_gradients[name] = decoded.grid(tokens_gradient)[0]
            _check(cancelled)
    parameters = list(decoded.parameters.items())
    tokens_gradient, *parameter_gradients = torch.autograd.grad(  # the last backward: the whole decoder
        decoded.low_res, [decoded.tokens] + [p for _, p in parameters], score_gradients["purview"], allow_unused=True)
    token_gradients["purview"] = decoded.grid(tokens_gradient)[0]
    layer_norms: dict[str, float] = {}
    for (name, _), gradient in zip(parameters, parameter_gradients):
        if gradient is not None:
            layer = _layer(name)
            layer_norms[layer] = layer_norms.get(layer, 0.0) + float(gradient.pow(2).sum())
    grid_maps["gradcam"] = gradcam(activations, token_gradients["gradcam"])
    grid_maps["counterfactual"] = gradcam(activations, token_gradients["gradcam"], counterfactual=True)
    for name in contrasts:
        grid_maps[name] = gradcam(activations, token_gradients[name])
    grid_maps["gradient_energy"] = token_gradients["purview"].pow(2).sum(dim=0)
    return decoded, grid_maps, layer_norms, contrasts


def _prompt_variants(points: np.ndarray, labels: np.ndarray, image_size: tuple[int, int],
                     options: MapOptions) -> tuple[np.ndarray, np.ndarray]:
    """(V, N, 2) (x, y) prompt-set variants and (V, N) labels (-1: the left-out point's padding)."""
    height, width = image_size
    rng = np.random.default_rng(options.seed)
    sigma = options.jitter_fraction * max(height, width)
    jittered = points[None] + rng.normal(0.0, sigma, size=(options.jitter, *points.shape))
    jittered[..., 0] = jittered[..., 0].clip(0, width - 1)
    jittered[..., 1] = jittered[..., 1].clip(0, height - 1)
    variant_points, variant_labels = [jittered], [np.repeat(labels[None], options.jitter, axis=0)]
    if options.leave_one_out and len(points) >= 2:
        dropped = np.repeat(labels[None], len(points), axis=0)
        dropped[np.arange(len(points)), np.arange(len(points))] = -1
        variant_points.append(np.repeat(points[None], len(points), axis=0))
        variant_labels.append(dropped)
    return np.concatenate(variant_points), np.concatenate(variant_labels)


def _intervention_stage(engine: SamEngine, embedding: ImageEmbedding, points, labels, chosen: int,
                        options: MapOptions, cancelled: Callable[[], bool]) -> torch.Tensor:
    """(V, S, S) low-res logits of the chosen output for every prompt variant: one decoder call,
    or calls of ``options.variants_per_call`` with ``cancelled`` asked between them."""
    variant_points, variant_labels = _prompt_variants(points, labels, embedding.original_size, options)
    coords = engine.transform.apply_coords(variant_points, embedding.original_size)
    coords = torch.as_tensor(coords, dtype=torch.float, device=engine.device)
    label_tensor = torch.as_tensor(variant_labels, dtype=torch.int, device=engine.device)
    step = options.variants_per_call or len(coords)
    parts = []
    with torch.no_grad():
        for start in range(0, len(coords), step):
            low_res, _ = decode_low_res(engine.sam, embedding.features, coords[start:start + step],
                                        label_tensor[start:start + step])
            parts.append(low_res[:, chosen])
            _check(cancelled)
    return torch.cat(parts)


def compute_sam_maps(
    engine: SamEngine,
    embedding: ImageEmbedding,
    points: np.ndarray,
    labels: np.ndarray,
    chosen: int = 0,
    previous_low_res: np.ndarray | torch.Tensor | None = None,
    options: MapOptions = MapOptions(),
    cancelled: Callable[[], bool] = lambda: False,
) -> SamMaps:
    """Every map and scalar for the mask SAM gives ``points`` / ``labels``.

    points: (N, 2) (x, y) image pixels; labels: (N,) 1 inclusion / 0 exclusion; chosen: which
    of the three multimask outputs the maps explain; previous_low_res: the previous timestep's
    (4g, 4g) low-res logits of its chosen mask, for ``contrast_previous`` (None: no such map).
    ``cancelled`` is asked between stages (after each forward and backward pass; a few ms apart
    with the tiny SAM); True raises :class:`MapsCancelled`.
    Raises :class:`core.models.sam_engine.PromptError` for a prompt set SAM cannot take.
    """
    times = {}
    start = time.perf_counter()
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    labels = np.asarray(labels).reshape(-1)
    coords, label_tensor = engine.prompt_tensors(embedding, points[None], labels[None])
    if previous_low_res is not None:
        previous_low_res = torch.as_tensor(np.asarray(previous_low_res) if not torch.is_tensor(previous_low_res)
                                           else previous_low_res)
    sam = engine.sam
    _check(cancelled)
    decoded, grid_maps, layer_norms, contrasts = _gradient_stage(sam, embedding, coords, label_tensor, chosen,
                                                                 previous_low_res, cancelled)
    times["gradients"] = time.perf_counter() - start
    _check(cancelled)
    variants = _intervention_stage(engine, embedding, points, labels, chosen, options, cancelled)
    times["intervention"] = time.perf_counter() - start - times["gradients"]
    _check(cancelled)
    with torch.no_grad():
        low_res = decoded.low_res.detach()[0]  # (M, S, S)
        probabilities = torch.sigmoid(variants)
        mean_probability = probabilities.mean(dim=0)
        total = binary_entropy(mean_probability)
        aleatoric = binary_entropy(probabilities).mean(dim=0)
        share = (low_res > 0).float().mean(dim=0)  # of the candidates that include each pixel
        low_res_maps = torch.stack([total, aleatoric, (total - aleatoric).clamp_min(0),
                                    binary_entropy(torch.sigmoid(low_res[chosen])),
                                    4 * share * (1 - share)])  # their variance, ×4: 1 when split evenly
        names = ["intervention_total", "intervention_aleatoric", "intervention_epistemic", "logit_entropy",
                 "candidate_disagreement"]
        image_maps = dict(zip(names, to_image(sam, low_res_maps, embedding).clamp(0, 1)))
        grid_names = list(grid_maps)
        energy_sum = float(grid_maps["gradient_energy"].sum())
        upscaled = minmax_normalise(to_image(sam, torch.stack([grid_maps[n] for n in grid_names]), embedding))
        image_maps.update(zip(grid_names, upscaled))
        contrast_names = [n for n in grid_names if n.startswith("contrast_")]
        contrast_maps = torch.stack([image_maps[n] for n in contrast_names])
        voice = minmax_normalise((contrast_maps - contrast_maps.mean(dim=0)).pow(2).mean(dim=0))
        image_maps["voice"] = voice
        logits = to_image(sam, low_res, embedding)  # (M, H, W)
        masks = logits > sam.mask_threshold
        mask = masks[chosen]
        variant_masks = to_image(sam, variants, embedding) > sam.mask_threshold
        area = max(int(mask.sum()), 1)
        explanation_on, voice_on = image_maps["gradcam"] > VOICE_THRESHOLD, voice > VOICE_THRESHOLD
        scalars = {
            "predicted_iou": float(decoded.predicted_iou[0, chosen]),
            "stability_score": float(calculate_stability_score(logits[chosen], sam.mask_threshold, 1.0)),
            "candidate_disagreement": 1.0 - float(np.mean([_iou(masks[i], masks[j])
                                                           for i in range(len(masks)) for j in range(i + 1, len(masks))])),
            "logit_entropy": float(image_maps["logit_entropy"].sum()) / area,
            "intervention_total": float(image_maps["intervention_total"].sum()) / area,
            "intervention_aleatoric": float(image_maps["intervention_aleatoric"].sum()) / area,
            "intervention_epistemic": float(image_maps["intervention_epistemic"].sum()) / area,
            "intervention_disagreement": 1.0 - float(np.mean([_iou(m, mask) for m in variant_masks])),
            "voice_iou": _iou(explanation_on, voice_on),
            "voice_snr": float(voice.mean() / voice.std()) if float(voice.std()) > 0 else 0.0,
            "gradient_energy": energy_sum,
            "purview_total": float(sum(layer_norms.values())),
        }
        scalars.update({f"purview.{layer}": value for layer, value in layer_norms.items()})
        result = {name: image_maps[name].float().cpu().numpy() for name in MAPS if name in image_maps}
    times["postprocess"] = time.perf_counter() - start - times["gradients"] - times["intervention"]
    return SamMaps(result, scalars, chosen, mask.cpu().numpy(), times)
