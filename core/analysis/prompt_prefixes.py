"""Timesteps of a one-shot strategy: the prompt set after each point is added, and decoding them.

A one-shot strategy returns its inclusion points I1..In and exclusion points E1..Em at once. They
are added one at a time, alternating kinds while both last (I1, E1, I2, E2, …, then the rest of
the longer list in order), and every addition is a change of the prompt set. As in PointPrompt's
collection protocol, SAM is asked (a timestep is recorded) only once the set holds at least one
point of each kind; so with n, m > 0 the timesteps are the prefixes ending at E1, I2, E2, … —
n + m − 1 of them, the first holding {I1, E1}, the last every point. With m = 0 (or n = 0) every
prefix is a timestep (n, resp. m, of them), the first holding one point.

All prefixes of one image are decoded against its one embedding; prompt sets with the same number
of points go to SAM together in :meth:`SamEngine.decode_batch` calls of at most ``batch_size``
(within one strategy every prefix has its own length, so batches form across the strategies run
on the same image). The mask kept is SAM's first multimask output, as PointPrompt kept it.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from core.models.embedding_cache import ImageEmbedding
from core.models.sam_engine import SamEngine

PromptSet = tuple[np.ndarray, np.ndarray]  # (n, 2) inclusion and (m, 2) exclusion (x, y), int64


def prompt_prefixes(inclusion: np.ndarray, exclusion: np.ndarray) -> list[PromptSet]:
    """The (inclusion, exclusion) point sets at each timestep of a one-shot strategy (module docstring)."""
    inclusion = np.asarray(inclusion, np.int64).reshape(-1, 2)
    exclusion = np.asarray(exclusion, np.int64).reshape(-1, 2)
    order: list[tuple[int, int]] = []  # (label, index into its list)
    for k in range(max(len(inclusion), len(exclusion))):
        order += [(1, k)] * (k < len(inclusion)) + [(0, k)] * (k < len(exclusion))
    prefixes = []
    for step in range(1, len(order) + 1):
        n = sum(1 for label, _ in order[:step] if label == 1)
        m = step - n
        if (n and m) or not len(inclusion) or not len(exclusion):
            prefixes.append((inclusion[:n].copy(), exclusion[:m].copy()))
    return prefixes


def as_points_and_labels(prompt: PromptSet) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) float64 (x, y), inclusion first, and (N,) labels 1/0 of one prompt set."""
    inclusion, exclusion = prompt
    points = np.concatenate([inclusion, exclusion]).astype(np.float64).reshape(-1, 2)
    return points, np.concatenate([np.ones(len(inclusion), np.int64), np.zeros(len(exclusion), np.int64)])


def decode_first_masks(engine: SamEngine, embedding: ImageEmbedding, prompts: list[PromptSet],
                       batch_size: int = 32) -> list[np.ndarray]:
    """SAM's first multimask output, (H, W) bool, for every prompt set of one image, in the given order.

    Sets of equal size are decoded together, ``batch_size`` at a time.
    """
    by_size: dict[int, list[int]] = defaultdict(list)
    for i, prompt in enumerate(prompts):
        by_size[len(prompt[0]) + len(prompt[1])].append(i)
    masks: list[np.ndarray | None] = [None] * len(prompts)
    for indices in by_size.values():
        for start in range(0, len(indices), max(1, batch_size)):
            chunk = indices[start : start + max(1, batch_size)]
            pairs = [as_points_and_labels(prompts[i]) for i in chunk]
            decoded = engine.decode_batch(embedding, np.stack([p for p, _ in pairs]), np.stack([l for _, l in pairs]))
            for i, answer in zip(chunk, decoded):
                masks[i] = answer.masks[0]
    return masks  # type: ignore[return-value]
