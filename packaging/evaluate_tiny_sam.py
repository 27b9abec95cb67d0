"""Measure SAM checkpoints and the colour-threshold baseline on two held-out scene families.

    python packaging/evaluate_tiny_sam.py                          # baseline + shipped tiny SAM
    python packaging/evaluate_tiny_sam.py --checkpoint runs/x/model.pth --scenes 50 --json out.json

Families (every object of a scene is a target):
- "demo": the training/demo generator (core.synthetic.scenes) with its own seed (2026; training
  uses other seeds and fresh scenes every step), at the demo dataset's 320×240.
- "unseen": core.synthetic.unseen_scenes, a family no training generator shares code or
  parameters with (other textures, shapes, counts, sizes, thin structures): generalisation.
- "varied", "varied_thin" (on request): the training generators themselves
  (core.synthetic.training_scenes) with a seed of their own (2027): how well the model fits
  what it trains on, apart from how it generalises.
- ``--dataset DIR``: a PointPrompt image dataset (e.g. resources/demo_dataset, what ``make run``
  opens), each image with its ground truth one target; per-kind results are per category.

Protocol (core.analysis.click_protocol): click 1 at the object's most interior point, SAM's
best-rated of three masks; clicks 2–3 at the centre of the largest error region, previous
logits as mask input. The colour-threshold baseline (core.analysis.colour_threshold) gets the
same clicks. Prints one JSON object per (family, model) and then a markdown table: mean IoU
after 1 and after 3 clicks, the share of objects at IoU ≥ 0.90 within 3 clicks, and the
1-click IoU of the smallest third of the objects.
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

from core.analysis.click_protocol import follow_click_protocol, run_click_protocol  # noqa: E402
from core.analysis.colour_threshold import DEFAULT_TOLERANCE, colour_threshold_mask  # noqa: E402
from core.models.sam_engine import SamEngine  # noqa: E402
from core.io.image_datasets import images_with_truth  # noqa: E402
from core.synthetic.scenes import Scene, render_scene  # noqa: E402
from core.synthetic.training_scenes import render_thin_training_scene, render_training_scene  # noqa: E402
from core.synthetic.unseen_scenes import UNSEEN_SEED, unseen_scene  # noqa: E402

FAMILIES = ("demo", "unseen")
TRAINING_FAMILIES = {"varied": render_training_scene, "varied_thin": render_thin_training_scene}


def family_scenes(family: str, count: int, seed: int | None = None, height: int = 240, width: int = 320) -> list[Scene]:
    """``count`` held-out scenes of ``family`` ("demo": seed 2026 by default; "unseen": UNSEEN_SEED;
    "varied", "varied_thin": 2027; the trainer seeds its scenes with (seed, step, index) triples)."""
    if family == "unseen":
        return [unseen_scene(i, UNSEEN_SEED if seed is None else seed, height, width) for i in range(count)]
    render = TRAINING_FAMILIES.get(family, render_scene)
    rng = np.random.default_rng((2026 if family == "demo" else 2027) if seed is None else seed)
    return [render(rng, height, width) for _ in range(count)]


def dataset_scenes(root: Path) -> list[Scene]:
    """Every image of a PointPrompt image dataset with a non-empty ground truth, as one-object
    scenes whose kind is the category."""
    scenes = [Scene(image.image, [image.truth], [image.category], [image.truth]) for image in images_with_truth(root)]
    if not scenes:
        raise SystemExit(f"{root}: no PointPrompt image dataset with ground truth here (expected "
                         "<category>/samples.npy and masks, or samples/<category>/<i>_sample.npy)")
    return scenes


def threshold_protocol(image: np.ndarray, truth: np.ndarray, clicks: int, tolerance: float) -> list[float]:
    """IoU after each of ``clicks`` clicks of the standard protocol, for the colour-threshold baseline."""
    segment = lambda points, labels: colour_threshold_mask(image, np.array(points), np.array(labels), tolerance)  # noqa: E731
    return follow_click_protocol(truth, clicks, segment).ious


def evaluate_model(model: SamEngine | float, scenes: list[Scene], clicks: int = 3) -> dict:
    """Run the protocol on every object; ``model`` is an engine or a colour tolerance (the baseline)."""
    ious, areas, kinds, firsts = [], [], [], []
    for scene in scenes:
        embedding = model.embed(scene.image) if isinstance(model, SamEngine) else None
        for truth, kind in zip(scene.masks, scene.kinds):
            if embedding is not None:
                run = run_click_protocol(model, embedding, truth, clicks)
                ious.append(run.ious)
                firsts.append(run.first_output_iou)
            else:
                ious.append(threshold_protocol(scene.image, truth, clicks, model))
            areas.append(int(truth.sum()))
            kinds.append(kind)
    ious_arr = np.array(ious)
    smallest = np.argsort(areas)[: max(1, len(areas) // 3)]
    per_kind = {k: round(float(ious_arr[[i for i, c in enumerate(kinds) if c == k], -1].mean()), 3)
                for k in sorted(set(kinds))}
    return {
        "objects": len(ious),
        "mean_iou_per_click": [round(float(v), 4) for v in ious_arr.mean(0)],
        "share_at_0.90_within_clicks": round(float((ious_arr.max(1) >= 0.9).mean()), 4),
        "iou_click1_smallest_third": round(float(ious_arr[smallest, 0].mean()), 4),
        "iou_last_click_per_kind": per_kind,
        "first_multimask_output_iou_click1": round(float(np.mean(firsts)), 4) if firsts else None,
    }


def markdown_table(results: list[dict]) -> str:
    """The summary table, one row per (family, model)."""
    lines = ["| family | model | objects | IoU 1 click | IoU 3 clicks | ≥ 0.90 within 3 | 1 click, smallest third |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        per_click = r["mean_iou_per_click"]
        lines.append(f"| {r['family']} | {r['model']} | {r['objects']} | {per_click[0]:.3f} | {per_click[-1]:.3f} "
                     f"| {100 * r['share_at_0.90_within_clicks']:.1f} % | {r['iou_click1_smallest_third']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, nargs="*", default=[],
                        help="candidate checkpoints, measured beside the baseline and the shipped tiny SAM")
    parser.add_argument("--no-shipped", action="store_true", help="leave the shipped tiny SAM out")
    parser.add_argument("--no-baseline", action="store_true", help="leave the colour-threshold baseline out")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="the baseline's RGB tolerance")
    parser.add_argument("--families", nargs="*", choices=FAMILIES + tuple(TRAINING_FAMILIES), default=list(FAMILIES),
                        help="scene families (default: demo unseen; varied and varied_thin are training generators)")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="also measure on this PointPrompt image dataset (one target per image)")
    parser.add_argument("--scenes", type=int, default=150, help="scenes per family")
    parser.add_argument("--seed", type=int, default=None, help="scene seed (default: each family's own)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write all results to this file")
    args = parser.parse_args(argv)
    if not args.families and args.dataset is None:
        parser.error("nothing to measure: name a family (--families demo unseen) or --dataset DIR")
    if args.threads:
        torch.set_num_threads(args.threads)
    models: list[tuple[str, SamEngine | float]] = []
    if not args.no_baseline:
        models.append((f"colour threshold (tolerance {args.tolerance:g})", args.tolerance))
    if not args.no_shipped:
        models.append(("shipped tiny SAM", SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)))
    for path in args.checkpoint:
        models.append((str(path), SamEngine.from_checkpoint(path, device="cpu", cache_dir=False)))
    families = [(family, family_scenes(family, args.scenes, args.seed)) for family in args.families]
    if args.dataset is not None:
        families.append((str(args.dataset), dataset_scenes(args.dataset)))
    results = []
    for family, scenes in families:
        for name, model in models:
            start = time.perf_counter()
            summary = dict(family=family, model=name, scenes=len(scenes), **evaluate_model(model, scenes))
            summary["seconds"] = round(time.perf_counter() - start, 1)
            print(json.dumps(summary), flush=True)
            results.append(summary)
    print(markdown_table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
