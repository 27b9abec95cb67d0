"""``pointprompt auto-prompt``: automated point selection over a dataset, written as PointPrompt results.

    pointprompt auto-prompt --dataset DIR --strategy S[,S…|all] [--checkpoint FILE] [--device auto]
                            [--category C ...] [--limit N] [--seed 0] [--budget NINC,NEXC]
                            [--max-clicks 20] [--batch-size 32] --out RESULTS

Strategies (core.analysis.point_strategies, core.analysis.error_region_clicking): random,
kmedoids, shi_tomasi, max_entropy, max_distance, saliency, per_object, error_region. Results go
to ``RESULTS/<category>/auto_<strategy>/…`` beside summaries (core.analysis.auto_prompt), so
``pointprompt analyze RESULTS`` reads machine and human sessions alike. A rerun resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _budget(text: str) -> tuple[int, int]:
    try:
        inclusion, exclusion = (int(v) for v in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected NINC,NEXC (e.g. 8,2), got {text!r}") from error
    return inclusion, exclusion


def auto_prompt_command(args: argparse.Namespace) -> dict:
    """Run the strategies; return the summary's headline (the "all" rows) as a dict."""
    from core.analysis.auto_prompt import AutoPromptError, auto_prompt
    from core.models.sam_engine import SamEngine

    engine = SamEngine.from_checkpoint(args.checkpoint, device=args.device)
    try:
        summary = auto_prompt(engine, args.dataset, args.strategy, args.out, categories=args.category,
                              limit=args.limit, seed=args.seed, budget=args.budget, max_clicks=args.max_clicks,
                              batch_size=args.batch_size,
                              progress=lambda done, total: print(f"\rprompted {done}/{total} images", end="",
                                                                 file=sys.stderr, flush=True))
    except (ValueError, AutoPromptError) as error:
        raise OSError(str(error)) from error  # the CLI prints it as one line and exits 2
    print(file=sys.stderr)
    return {"out": str(args.out), "images_done": summary["images_done"], "images_resumed": summary["images_resumed"],
            "errors": summary["errors"], "all": {name: rows.get("all") for name, rows in summary["strategies"].items()}}


def add_auto_prompt_command(commands) -> None:
    """Add the ``auto-prompt`` sub-command to an argparse sub-parsers object."""
    parser = commands.add_parser("auto-prompt", help="automated point selection written as PointPrompt results")
    parser.add_argument("--dataset", type=Path, required=True, help="a PointPrompt 'Image datasets' folder")
    parser.add_argument("--strategy", required=True, help="a strategy, several separated by commas, or all")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per category")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=_budget, default=None,
                        help="NINC,NEXC points for every category (default: the paper's per-category budgets)")
    parser.add_argument("--max-clicks", type=int, default=20, help="clicks of the error_region protocol")
    parser.add_argument("--batch-size", type=int, default=32, help="prompt sets per decoder call")
    parser.add_argument("--out", type=Path, required=True)


AUTO_PROMPT_COMMANDS = {"auto-prompt": auto_prompt_command}
