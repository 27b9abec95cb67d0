"""Write docs/example-analysis/: the prompting analysis of docs/example-export/ against the demo dataset.

    python packaging/make_example_analysis.py [--out docs/example-analysis]

The same function as ``pointprompt analyze docs/example-export --dataset resources/demo_dataset
--out docs/example-analysis`` (core.analysis.prompt_report.analyze); the export's own
session-events.jsonl times the timesteps. tests/test_example_analysis.py reruns it and compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.analysis.prompt_report import analyze  # noqa: E402
from core.paths import DEMO_DATASET  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_EXPORT = ROOT / "docs" / "example-export"
DEFAULT_OUT = ROOT / "docs" / "example-analysis"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    summary = analyze(EXAMPLE_EXPORT, DEMO_DATASET, args.out)
    print(f"wrote {args.out}: {summary['timesteps']} timesteps, {summary['rounds']} rounds, "
          f"{summary['skipped']} skipped")
    return args.out


if __name__ == "__main__":
    main()
