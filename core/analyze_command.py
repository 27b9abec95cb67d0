"""``pointprompt analyze``: the over-prompting analysis of PointPrompt results, from the command line.

    pointprompt analyze RESULTS [--dataset DIR] [--session PATH ...] [--category C ...]
                        [--annotator A ...] [--over-prompt-threshold 0.05] [--no-plots] --out DIR

RESULTS: a PointPrompt "Prompting results" folder (``<category>/<annotator>/scores/…``), the
published one or one of our exports. ``--dataset``: the "Image datasets" folder with the ground
truth (features, recomputed IoU). ``--session``: a session folder or event log that times the
timesteps (an export's own ``session-events.jsonl`` is used without asking). Writes the files
listed in core.analysis.prompt_report to ``--out`` and prints a JSON summary.

Wiring into core/cli.py: ``add_analyze_command(commands)`` beside ``add_map_commands``, and
``**ANALYZE_COMMANDS`` in the command table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def analyze_command(args: argparse.Namespace) -> dict:
    """Run the analysis; return what it wrote (the summary rows included) as a dict."""
    from core.analysis.prompt_analysis import AnalysisOptions  # here: matplotlib loads only for this command
    from core.analysis.prompt_report import analyze

    options = AnalysisOptions(categories=args.category, annotators=args.annotator, sessions=list(args.session),
                              over_prompt_threshold=args.over_prompt_threshold)
    summary = analyze(args.results, args.dataset, args.out, options=options, plots=not args.no_plots,
                      progress=lambda done, total: print(f"\ranalysed {done}/{total} images", end="",
                                                         file=sys.stderr, flush=True))
    print(file=sys.stderr)
    return summary


def add_analyze_command(commands) -> None:
    """Add the ``analyze`` sub-command to an argparse sub-parsers object."""
    parser = commands.add_parser("analyze", help="over-prompting analysis of PointPrompt results (ours or published)")
    parser.add_argument("results", type=Path, help="a PointPrompt 'Prompting results' folder, or one of our exports")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="the 'Image datasets' folder with the ground truth (features and recomputed IoU)")
    parser.add_argument("--session", type=Path, action="append", default=[],
                        help="a session folder or event log to time the timesteps with (repeatable)")
    parser.add_argument("--category", action="append", help="only these categories (repeatable)")
    parser.add_argument("--annotator", action="append", help="only these annotators (repeatable)")
    parser.add_argument("--over-prompt-threshold", type=float, default=0.05,
                        help="a round is over-prompted when best − last IoU exceeds this (default 0.05)")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    parser.add_argument("--out", type=Path, required=True)


ANALYZE_COMMANDS = {"analyze": analyze_command}
