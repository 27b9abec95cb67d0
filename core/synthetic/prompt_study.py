"""A synthetic prompting study: an "Image datasets" folder and "Prompting results" recorded with a model.

For tests and benchmarks of replay at any scale (PointPrompt: 16 categories × 400 images, about
30 timesteps each, up to 3 annotators per image; 198,590 prompt sets in all). Images are
procedural scenes (core.synthetic.scenes) with the largest visible object as ground truth.

Each annotator's sequence (:func:`simulated_sequence`) follows PointPrompt's protocol: a round
opens with one inclusion point inside the object and one exclusion point outside it (the first
timestep), then every timestep is one change: add a point (70 %; inclusion inside or exclusion
outside, alike), remove one (15 %; never the last of its kind) or move one by up to 8 px (15 %).
With ``timesteps`` ≥ 6 a second round takes the last third. Points are integer (x, y) pixels.

The sets are recorded as the app would, with the given engine: SAM's first multimask output and
its IoU, written by :func:`core.io.pointprompt_results.write_image_results`, so replaying them
through the same engine gives back the scores (decoded in batches, as auto-prompt does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.analysis.prompt_prefixes import decode_first_masks
from core.io.image_datasets import write_category
from core.io.pointprompt_results import ResultStep, write_image_results
from core.models.sam_engine import SamEngine
from core.prompting.metrics import iou
from core.synthetic.scenes import render_scene

Step = tuple[int, np.ndarray, np.ndarray]  # (round, (n, 2) inclusion, (m, 2) exclusion) int64 (x, y)


def _pick(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(region)
    k = int(rng.integers(len(rows)))
    return np.array([cols[k], rows[k]], np.int64)


def simulated_sequence(truth: np.ndarray, rng: np.random.Generator, timesteps: int) -> list[Step]:
    """``timesteps`` cumulative prompt sets of one simulated annotator on (H, W) bool ``truth`` (module docstring)."""
    height, width = truth.shape
    rounds = [timesteps] if timesteps < 6 else [timesteps - timesteps // 3, timesteps // 3]
    steps: list[Step] = []
    for number, length in enumerate(rounds):
        points = {1: [_pick(rng, truth)], 0: [_pick(rng, ~truth)]}
        for _ in range(length):
            if steps and steps[-1][0] == number:
                action = rng.choice(["add", "remove", "move"], p=[0.7, 0.15, 0.15])
                label = int(rng.integers(2))
                if action == "remove" and len(points[label]) > 1:
                    points[label].pop(int(rng.integers(len(points[label]))))
                elif action == "move":
                    k = int(rng.integers(len(points[label])))
                    shifted = points[label][k] + rng.integers(-8, 9, size=2)
                    if (shifted == points[label][k]).all():
                        shifted[0] += 1 if shifted[0] < width - 1 else -1
                    points[label][k] = np.clip(shifted, 0, [width - 1, height - 1])
                else:
                    points[label].append(_pick(rng, truth if label == 1 else ~truth))
            steps.append((number, np.array(points[1], np.int64).reshape(-1, 2),
                          np.array(points[0], np.int64).reshape(-1, 2)))
    return steps


def synthetic_image(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An (H, W, 3) uint8 scene and its largest visible object as (H, W) bool ground truth."""
    while True:
        scene = render_scene(rng, *size, min_visible_px=400)
        if scene.masks:
            return scene.image, max(scene.masks, key=lambda m: int(m.sum()))


def write_synthetic_study(engine: SamEngine, dataset_root: str | Path, results_root: str | Path,
                          categories: int = 16, images: int = 400, timesteps: int = 30, annotators: int = 1,
                          size: tuple[int, int] = (240, 320), seed: int = 0, batch_size: int = 64,
                          progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the dataset (layout A, categories ``cat00``, ``cat01``, …) and every annotator's
    (``st1``, ``st2``, …) results recorded with ``engine``. size: (H, W). Returns the counts:
    categories, images, annotators, prompt_sets."""
    rng = np.random.default_rng(seed)
    total, done, prompt_sets = categories * images, 0, 0
    for c in range(categories):
        category = f"cat{c:02d}"
        pictures = [synthetic_image(rng, size) for _ in range(images)]
        write_category(dataset_root, category, [p for p, _ in pictures], [t for _, t in pictures])
        for index, (image, truth) in enumerate(pictures):
            embedding = engine.embed(image)
            for a in range(annotators):
                steps = simulated_sequence(truth, rng, timesteps)
                masks = decode_first_masks(engine, embedding, [(g, r) for _, g, r in steps], batch_size)
                write_image_results(Path(results_root) / category / f"st{a + 1}", index,
                                    [ResultStep(n, g, r, iou(m, truth), m) for (n, g, r), m in zip(steps, masks)])
                prompt_sets += len(steps)
            done += 1
            if progress is not None:
                progress(done, total)
    return {"categories": categories, "images": total, "annotators": annotators, "prompt_sets": prompt_sets}
