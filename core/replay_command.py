"""``pointprompt replay``: re-run recorded prompt sequences through a model, with interventions on each click.

    pointprompt replay RESULTS --dataset DIR [--checkpoint FILE] [--device auto]
                       [--interventions leave-one-out,move,reorder | all | none]
                       [--category C ...] [--annotator A ...] [--output 0]
                       [--move-px PX | --move-fraction 0.02] [--hurt-threshold 0.01] [--batch-size 64]
                       [--ray ADDRESS | --ray local] [--workers 2] [--gpus-per-worker 0] [--timeout 0]
                       [--no-disk-cache] --out DIR

RESULTS: a PointPrompt "Prompting results" folder (published or ours); ``--dataset``: the
"Image datasets" folder with its ground truth. Writes timesteps.csv (recorded vs replayed IoU),
clicks.csv (every click × intervention), summary.csv / summary.md (which clicks hurt, per
category and annotator), skipped.csv and replay_summary.json to ``--out``
(core.analysis.study_replay). A rerun into the same ``--out`` resumes: finished images are
skipped. ``--ray``: distribute images over Ray workers (``local``: a Ray instance on this
machine with ``--workers`` CPUs; else a cluster address, e.g. ``auto`` or ``host:6379``; the
folders must be readable on every node).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def replay_command(args: argparse.Namespace) -> dict:
    """Run the replay; return the summary's headline as a dict."""
    from core.analysis.image_replay import EngineSpec
    from core.analysis.ray_map import MapTimeout, RayUnavailable
    from core.analysis.study_replay import ReplayError, replay_study
    from core.models.sam_engine import SamEngine

    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\rreplayed {done}/{total} images ({time.monotonic() - started:.0f} s)", end="", file=sys.stderr,
              flush=True)

    checkpoint = None if args.checkpoint is None else str(args.checkpoint)
    engine = (EngineSpec(checkpoint, args.device, not args.no_disk_cache, threads=1) if args.ray
              else SamEngine.from_checkpoint(args.checkpoint, device=args.device,
                                             cache_dir=False if args.no_disk_cache else True))
    try:
        summary = replay_study(args.results, args.dataset, args.out, engine, interventions=args.interventions,
                               categories=args.category, annotators=args.annotator, output=args.output,
                               move_px=args.move_px, move_fraction=args.move_fraction, batch_size=args.batch_size,
                               hurt_threshold=args.hurt_threshold, ray_address=args.ray, workers=args.workers,
                               gpus_per_worker=args.gpus_per_worker, timeout_s=args.timeout or None,
                               progress=progress)
    except (ValueError, ReplayError, RayUnavailable, MapTimeout) as error:
        raise OSError(str(error)) from error  # the CLI prints it as one line and exits 2
    print(file=sys.stderr)
    loo = [r for r in summary["summary"] if r["intervention"] == "leave_one_out" and r["category"] == "all"]
    return {key: summary[key] for key in ("out", "model", "interventions", "images_planned", "images_resumed",
                                          "images_replayed", "skipped", "reproduction", "prompt_sets_decoded",
                                          "seconds", "prompt_sets_per_second")} | {"leave_one_out": loo}


def add_replay_command(commands) -> None:
    """Add the ``replay`` sub-command to an argparse sub-parsers object."""
    parser = commands.add_parser("replay", help="replay recorded prompt sequences with per-click interventions")
    parser.add_argument("results", type=Path, help="a PointPrompt 'Prompting results' folder, or one of our exports")
    parser.add_argument("--dataset", type=Path, required=True, help="the 'Image datasets' folder with the ground truth")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--interventions", default="leave-one-out,move,reorder",
                        help="leave-one-out, move, reorder (comma-separated), all, or none (recorded sets only)")
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument("--annotator", action="append", help="only these annotators (repeatable)")
    parser.add_argument("--output", type=int, default=0, choices=(0, 1, 2),
                        help="SAM's candidate to score (default 0: the first multimask output, as PointPrompt)")
    move = parser.add_mutually_exclusive_group()
    move.add_argument("--move-px", type=float, default=None, help="move a click by this many pixels")
    move.add_argument("--move-fraction", type=float, default=0.02,
                      help="move a click by this fraction of the image's longer side (default 0.02)")
    parser.add_argument("--hurt-threshold", type=float, default=0.01,
                        help="a click hurts when leaving it out raises the final IoU by more (default 0.01)")
    parser.add_argument("--batch-size", type=int, default=64, help="prompt sets per decoder call")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="distribute images over Ray: 'local' or a cluster address (pip install ray)")
    parser.add_argument("--workers", type=int, default=2, help="with --ray local: worker processes (default 2)")
    parser.add_argument("--gpus-per-worker", type=float, default=0.0, help="with --ray: GPU share of each worker")
    parser.add_argument("--timeout", type=float, default=0.0,
                        help="with --ray: seconds to wait for one image's result (default 0: no limit)")
    parser.add_argument("--no-disk-cache", action="store_true", help="keep image embeddings in memory only")
    parser.add_argument("--out", type=Path, required=True)


REPLAY_COMMANDS = {"replay": replay_command}
