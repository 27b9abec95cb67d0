"""Measure a SAM checkpoint on held-out procedural scenes with the interactive click protocol.

    python packaging/evaluate_tiny_sam.py                       # the shipped tiny SAM
    python packaging/evaluate_tiny_sam.py --checkpoint FILE --scenes 200

Held-out scenes come from their own seed (default 2026; training uses seed 0 and draws a
fresh scene for every sample) and have the demo dataset's 320×240 size, so they go through
the app's resize path. Every object in a scene is a target. Prints mean IoU after 1, 2 and 3
clicks (core.analysis.click_protocol) and the share of objects at IoU ≥ 0.90 within 3 clicks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.analysis.click_protocol import run_click_protocol  # noqa: E402
from core.models.sam_engine import SamEngine  # noqa: E402
from core.synthetic.scenes import render_scene  # noqa: E402


def evaluate(engine: SamEngine, scenes: int, seed: int, height: int = 240, width: int = 320, clicks: int = 3) -> dict:
    """Run the protocol on every object of ``scenes`` held-out scenes; return summary figures."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(scenes):
        scene = render_scene(rng, height, width)
        embedding = engine.embed(scene.image)
        runs.extend(run_click_protocol(engine, embedding, truth, clicks) for truth in scene.masks)
    ious = np.array([run.ious for run in runs])
    return {
        "objects": len(runs),
        "scenes": scenes,
        "seed": seed,
        "mean_iou_per_click": [round(float(v), 4) for v in ious.mean(0)],
        "mean_best_iou_within_clicks": round(float(ious.max(1).mean()), 4),
        "share_at_0.90_within_clicks": round(float((ious.max(1) >= 0.9).mean()), 4),
        "first_multimask_output_iou_click1": round(float(np.mean([r.first_output_iou for r in runs])), 4),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    parser.add_argument("--scenes", type=int, default=150)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    engine = SamEngine.from_checkpoint(args.checkpoint, device="cpu", cache_dir=False)
    start = time.perf_counter()
    summary = evaluate(engine, args.scenes, args.seed)
    summary["model"] = engine.identity.key
    summary["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
