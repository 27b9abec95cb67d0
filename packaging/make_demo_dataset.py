"""Write the shipped demo dataset in the PointPrompt "Image datasets" layout.

    python packaging/make_demo_dataset.py            # → resources/demo_dataset/

Four categories named after the shape to segment (ellipse, polygon, star, bar), 12 images each,
320×240 RGB. Each image holds its target and 2–4 other shapes that may occlude it; the ground
truth is the target's visible part, kept only when at least 70 % of it is visible and it is one
piece. Fixed seed: the same command always writes the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.image_datasets import write_category  # noqa: E402
from core.synthetic.scenes import SHAPE_KINDS, render_scene  # noqa: E402

DEMO_CATEGORIES = ("ellipse", "polygon", "star", "bar")
DEMO_SIZE = (240, 320)  # (height, width)
DEMO_SEED = 4803


def demo_image(rng: np.random.Generator, category: str) -> tuple[np.ndarray, np.ndarray]:
    """One (image (H, W, 3) uint8, truth (H, W) bool) pair whose target is a ``category`` shape."""
    height, width = DEMO_SIZE
    while True:
        others = list(rng.choice(SHAPE_KINDS, size=int(rng.integers(2, 5))))
        position = int(rng.integers(0, len(others) + 1))
        kinds = tuple(others[:position] + [category] + others[position:])
        scene = render_scene(rng, height, width, kinds=kinds, min_visible_px=0)
        target = scene.masks[position]
        visible_share = target.sum() / max(scene.shapes[position].sum(), 1)
        n_parts = cv2.connectedComponents(target.astype(np.uint8))[0] - 1
        if target.sum() >= 600 and n_parts == 1 and visible_share >= 0.7:
            return scene.image, target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "demo_dataset")
    parser.add_argument("--per-category", type=int, default=12)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    for category in DEMO_CATEGORIES:
        pairs = [demo_image(rng, category) for _ in range(args.per_category)]
        folder = write_category(args.out, category, [p[0] for p in pairs], [p[1] for p in pairs])
        print(f"{folder}: {len(pairs)} images")


if __name__ == "__main__":
    main()
