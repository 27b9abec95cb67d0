"""The ``pointprompt`` commands of the gradient maps (registered by core.cli):

    pointprompt sam-maps IMAGE --include X,Y [...] [--exclude X,Y ...] [--checkpoint FILE]
                         [--device auto] [--chosen first|best|0|1|2] --out DIR
    pointprompt evaluate-uncertainty --dataset DIR [--category C ...] [--limit N]
                         [--checkpoint FILE] [--clicks 5] [--chosen first|best] --out DIR

``sam-maps`` writes, for one prompt set, ``DIR/<map>.npy`` ((H, W) float32 in [0, 1]),
``DIR/<map>.png`` (the same map through OpenCV's viridis colormap, for looking at) and
``DIR/scalars.json``, with the code the app runs. ``evaluate-uncertainty`` simulates clicking
over a PointPrompt image dataset (core.analysis.uncertainty_evaluation) and writes
``per_click.csv``, ``summary.json`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from core.io.atomic import atomic_save_npy, atomic_write_bytes


def write_maps(maps, out: Path, extra: dict | None = None) -> list[Path]:
    """Each map as ``<name>.npy`` (float32) and ``<name>.png`` (viridis), and ``scalars.json``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, values in maps.maps.items():
        written.append(atomic_save_npy(out / f"{name}.npy", values.astype(np.float32)))
        bgr = cv2.applyColorMap(np.round(values * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
        ok, png = cv2.imencode(".png", bgr)
        if not ok:
            raise ValueError(f"cannot encode map {name} as PNG")
        written.append(atomic_write_bytes(out / f"{name}.png", png.tobytes()))
    summary = {"chosen": maps.chosen, "mask_pixels": int(maps.mask.sum()), "scalars": maps.scalars, **(extra or {})}
    written.append(atomic_write_bytes(out / "scalars.json", json.dumps(summary, indent=1).encode()))
    return written


def sam_maps(args: argparse.Namespace) -> dict:
    """The ``sam-maps`` command; returns what it printed as a dict."""
    from core.gradients.sam_maps import compute_sam_maps
    from core.io.images import read_image
    from core.models.sam_engine import SamEngine

    image = read_image(args.image)
    points = np.array([*args.include, *args.exclude], dtype=np.float64).reshape(-1, 2)
    labels = np.array([1] * len(args.include) + [0] * len(args.exclude))
    engine = SamEngine.from_checkpoint(args.checkpoint, device=args.device)
    embedding = engine.embed(image)
    if args.chosen in ("first", "best"):
        predicted = engine.decode_logits(embedding, points, labels)[1]
        chosen = 0 if args.chosen == "first" else int(np.argmax(predicted))
    else:
        chosen = int(args.chosen)
    maps = compute_sam_maps(engine, embedding, points, labels, chosen)
    written = write_maps(maps, args.out, {"model": engine.description, "points": points.tolist(),
                                          "labels": labels.tolist()})
    return {"model": engine.description, "chosen": chosen, "maps": sorted(maps.maps), "written": len(written),
            "out": str(args.out), "scalars": {k: round(v, 5) for k, v in maps.scalars.items()
                                              if not k.startswith("purview.")}}


def evaluate_uncertainty(args: argparse.Namespace) -> dict:
    """The ``evaluate-uncertainty`` command; returns the summary's headline as a dict."""
    from core.analysis.uncertainty_evaluation import EvaluationOptions, evaluate_dataset, write_outputs
    from core.io.image_datasets import images_with_truth, list_categories
    from core.models.sam_engine import SamEngine

    categories = args.category or list_categories(args.dataset)
    if not categories:
        raise FileNotFoundError(f"No PointPrompt image dataset in {args.dataset}: expected <category>/samples.npy "
                                "or samples/<category>/<i>_sample.npy")
    objects = [(image.name, image.image, image.truth)
               for image in images_with_truth(args.dataset, categories, args.limit)]
    engine = SamEngine.from_checkpoint(args.checkpoint, device=args.device)
    options = EvaluationOptions(clicks=args.clicks, chosen=args.chosen, suggest_from=args.suggest_from)
    records, summary = evaluate_dataset(engine, objects, options, progress=lambda done, total: print(
        f"\revaluated {done}/{total} objects", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    summary["model"] = engine.description
    written = write_outputs(records, summary, args.out)
    best = max(summary["scalars"].items(), key=lambda item: np.nan_to_num(item[1]["auroc_bad_mask"]))
    return {"model": engine.description, "objects": summary["objects"], "masks": summary["masks"],
            "best_scalar": {best[0]: round(best[1]["auroc_bad_mask"], 3)},
            "mean_iou_by_click": {k: [round(v, 3) for v in values] for k, values in summary["mean_iou_by_click"].items()},
            "written": [str(p) for p in written]}


def add_map_commands(commands, point_type) -> None:
    """Register ``sam-maps`` and ``evaluate-uncertainty`` on core.cli's sub-parsers."""
    maps = commands.add_parser("sam-maps", help="explanation and uncertainty maps of one prompt set")
    maps.add_argument("image", type=Path)
    maps.add_argument("--include", type=point_type, action="append", default=[], metavar="X,Y")
    maps.add_argument("--exclude", type=point_type, action="append", default=[], metavar="X,Y")
    maps.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    maps.add_argument("--device", default="auto")
    maps.add_argument("--chosen", default="first", choices=("first", "best", "0", "1", "2"),
                      help="the candidate the maps explain: first (PointPrompt's), best (SAM's best-rated) or 0-2")
    maps.add_argument("--out", type=Path, required=True)
    evaluate = commands.add_parser("evaluate-uncertainty", help="does uncertainty predict error? (simulated clicks)")
    evaluate.add_argument("--dataset", type=Path, required=True, help="a PointPrompt 'Image datasets' folder")
    evaluate.add_argument("--category", action="append", help="only these categories (repeatable)")
    evaluate.add_argument("--limit", type=int, default=None, help="at most this many images per category")
    evaluate.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--clicks", type=int, default=5)
    evaluate.add_argument("--chosen", default="first", choices=("first", "best"))
    evaluate.add_argument("--suggest-from", default="intervention_total", help="the map suggestions come from")
    evaluate.add_argument("--out", type=Path, required=True)


COMMANDS = {"sam-maps": sam_maps, "evaluate-uncertainty": evaluate_uncertainty}
