"""Grouping loss: a dense auxiliary signal asking the tiny SAM's image embedding to tell objects apart.

The mask loss teaches grouping only through a few prompts per image; the tiny SAM's failures are
grouping failures (it returns the uniform patch around the click, not the whole ring or
stroke). This loss supervises every cell of the embedding grid at once: a 1×1 projection of
the embedding (a training-only head, not part of the shipped state dict) should give cells of
the same object cosine similarity 1 and cells of different objects (background counts as one
object) similarity ≤ 0 — the pull/push form of pixel-embedding losses for instance
segmentation (De Brabandere et al., 2017), with cosine similarity instead of distances.
Used by packaging/train_tiny_sam.py ``--grouping-weight``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -1


def cell_labels(objects: torch.Tensor, grid: int, min_object_share: float = 0.25,
                min_background_share: float = 0.75) -> torch.Tensor:
    """Label every cell of a ``grid``×``grid`` embedding from a pixel object map.

    objects: (S, S) long, S a multiple of ``grid``: -1 padding, 0 background, k ≥ 1 object k.
    Returns (grid, grid) long: the object covering the largest share of the cell if that share
    is at least ``min_object_share`` (so thin objects keep their cells), else 0 where
    background covers at least ``min_background_share``, else IGNORE (mixed or padding).
    """
    side = objects.shape[-1]
    if objects.shape != (side, side) or side % grid:
        raise ValueError(f"objects must be square with a side divisible by {grid}, got {tuple(objects.shape)}")
    n_labels = int(objects.max().clamp(min=0)) + 2  # padding, background, objects 1..n
    one_hot = F.one_hot(objects + 1, n_labels).permute(2, 0, 1).float()[None]
    shares = F.avg_pool2d(one_hot, side // grid)[0]  # (n_labels, grid, grid)
    labels = torch.full((grid, grid), IGNORE, dtype=torch.long, device=objects.device)
    labels[shares[1] >= min_background_share] = 0
    if n_labels > 2:
        best_share, best = shares[2:].max(0)
        labels = torch.where(best_share >= min_object_share, best + 1, labels)
    return labels


def grouping_loss(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Pull/push loss on one image's cell features.

    features: (D, g, g) projected embedding; labels: (g, g) from ``cell_labels``.
    Returns a scalar: mean over same-object pairs of (1 − cos) plus mean over different-object
    pairs of max(cos, 0). Zero (with a gradient path) when fewer than two labelled cells exist.
    """
    flat = F.normalize(features.flatten(1).T, dim=1)  # (g², D)
    keep = labels.flatten() != IGNORE
    cells, cell_label = flat[keep], labels.flatten()[keep]
    if len(cells) < 2:
        return features.sum() * 0.0
    similarity = cells @ cells.T
    same = cell_label[:, None] == cell_label[None, :]
    off_diagonal = ~torch.eye(len(cells), dtype=torch.bool, device=cells.device)
    pull_pairs, push_pairs = same & off_diagonal, ~same
    loss = features.sum() * 0.0
    if pull_pairs.any():
        loss = loss + (1 - similarity[pull_pairs]).mean()
    if push_pairs.any():
        loss = loss + similarity[push_pairs].clamp(min=0).mean()
    return loss


def grouping_head(embed_dim: int, out_dim: int = 32) -> torch.nn.Module:
    """The training-only projection: a 1×1 convolution (B, embed_dim, g, g) → (B, out_dim, g, g)."""
    return torch.nn.Conv2d(embed_dim, out_dim, kernel_size=1)
