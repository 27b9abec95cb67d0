"""Score many prompt sets of one image against its ground truth, in as few decoder calls as sizes allow.

Sets with the same number of points go to SAM's decoder together (the stock decoder batches
prompt sets against one embedding, not sets of different lengths: padding would change the
masks), at most ``batch_size`` per call and at most ``pixel_budget`` upscaled mask pixels per
call (bounded memory on large images). Only candidate ``output`` (PointPrompt: 0, the first
multimask output) is upscaled to the image and compared with the ground truth, on the model's
device; only the IoUs come back.

The masks are the engine's (:meth:`SamEngine.decode` upscales and thresholds each candidate on
its own, so upscaling one gives the same pixels). A batch of B > 1 sets sums in another order
than B single decodes: logits differ in their last bits (≤ 5e-4 measured on the tiny SAM), so a
pixel whose logit sits at the threshold may flip; ``batch_size=1`` reproduces the app's decode
bit for bit. An empty set gives the empty mask without a decode.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from core.analysis.interventions import PromptSet
from core.models.embedding_cache import ImageEmbedding
from core.models.prompt_decoding import decode_low_res
from core.models.sam_engine import SamEngine

DEFAULT_BATCH_SIZE = 64
DEFAULT_PIXEL_BUDGET = 1 << 26  # 64 Mpx of float32 logits per call: 256 MiB


@dataclass
class ScoringStats:
    """Counters of one or more :func:`score_prompt_sets` calls."""

    prompt_sets: int = 0
    decoder_calls: int = 0


def truth_tensor(engine: SamEngine, truth: np.ndarray) -> torch.Tensor:
    """(H, W) bool ground truth on the engine's device."""
    return torch.as_tensor(np.asarray(truth, bool), device=engine.device)


def _points_and_labels(prompt: PromptSet) -> tuple[np.ndarray, np.ndarray]:
    green, red = prompt
    points = np.concatenate([np.asarray(green, np.float64).reshape(-1, 2), np.asarray(red, np.float64).reshape(-1, 2)])
    return points, np.concatenate([np.ones(len(green), np.int64), np.zeros(len(red), np.int64)])


@torch.no_grad()
def _batch_ious(engine: SamEngine, embedding: ImageEmbedding, truth: torch.Tensor, prompts: list[PromptSet],
                output: int) -> list[float]:
    """IoU of candidate ``output`` for B sets of equal length N, one decoder call."""
    pairs = [_points_and_labels(p) for p in prompts]
    coords, labels = engine.prompt_tensors(embedding, np.stack([p for p, _ in pairs]), np.stack([l for _, l in pairs]))
    low_res, _ = decode_low_res(engine.sam, embedding.features, coords, labels, None, True)
    logits = engine.sam.postprocess_masks(low_res[:, output:output + 1], embedding.input_size, embedding.original_size)
    masks = logits[:, 0] > engine.sam.mask_threshold
    inter = (masks & truth).sum(dim=(1, 2)).cpu().tolist()
    union = (masks | truth).sum(dim=(1, 2)).cpu().tolist()
    return [1.0 if u == 0 else i / u for i, u in zip(inter, union)]


def score_prompt_sets(engine: SamEngine, embedding: ImageEmbedding, truth: torch.Tensor, prompts: list[PromptSet],
                      output: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, pixel_budget: int = DEFAULT_PIXEL_BUDGET,
                      stats: ScoringStats | None = None) -> np.ndarray:
    """IoU against ``truth`` ((H, W) bool tensor, :func:`truth_tensor`) of candidate ``output`` for each set.

    prompts: (inclusion (n, 2), exclusion (m, 2)) (x, y) image pixels. Returns (len(prompts),)
    float64, in order. Raises :class:`core.models.sam_engine.PromptError` for a point outside the
    image. ``stats`` (optional) counts the sets decoded and the decoder calls."""
    height, width = truth.shape
    per_call = max(1, min(batch_size, pixel_budget // max(1, height * width)))
    empty_iou = 1.0 if not bool(truth.any()) else 0.0
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, (green, red) in enumerate(prompts):
        by_size[len(green) + len(red)].append(i)
    ious = np.full(len(prompts), np.nan)
    for size, indices in by_size.items():
        if size == 0:
            ious[indices] = empty_iou
            continue
        for start in range(0, len(indices), per_call):
            chunk = indices[start:start + per_call]
            ious[chunk] = _batch_ious(engine, embedding, truth, [prompts[i] for i in chunk], output)
            if stats is not None:
                stats.prompt_sets += len(chunk)
                stats.decoder_calls += 1
    return ious
