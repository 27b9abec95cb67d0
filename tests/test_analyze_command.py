"""``pointprompt analyze``'s arguments (core/analyze_command.py), parsed as core/cli.py will wire them."""

import argparse
import json
from pathlib import Path

import pytest

from core.analyze_command import ANALYZE_COMMANDS, add_analyze_command
from core.paths import DEMO_DATASET

EXAMPLE_EXPORT = Path(__file__).resolve().parents[1] / "docs" / "example-export"


def parse(argv):
    parser = argparse.ArgumentParser(prog="pointprompt")
    add_analyze_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_analyze_command_writes_the_tables(tmp_path, capsys):
    args = parse(["analyze", str(EXAMPLE_EXPORT), "--dataset", str(DEMO_DATASET), "--category", "star",
                  "--annotator", "st1", "--over-prompt-threshold", "0.3", "--no-plots", "--out", str(tmp_path)])
    summary = ANALYZE_COMMANDS[args.command](args)
    json.dumps(summary)  # the CLI prints it as JSON
    assert summary["timesteps"] == 9 and summary["skipped"] == 0
    assert summary["summary"][0]["over_prompted_share"] == 0.0  # no loss above 0.3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.csv", "skipped.csv", "summary.csv", "summary.md",
                                                          "timesteps.csv"]
    assert "analysed 2/2 images" in capsys.readouterr().err


def test_filters_and_defaults(tmp_path):
    args = parse(["analyze", str(EXAMPLE_EXPORT), "--category", "bar", "--out", str(tmp_path)])
    assert args.dataset is None and args.session == [] and args.over_prompt_threshold == 0.05
    summary = ANALYZE_COMMANDS["analyze"](args)
    assert summary["timesteps"] == 0  # no "bar" results: empty tables and plots, not an error
    assert (tmp_path / "plots" / "iou_per_timestep.png").is_file()


def test_spearman_of_the_plots():
    import numpy as np

    from core.analysis.analysis_plots import spearman

    x = np.array([1.0, 2.0, 2.0, 4.0, np.nan])
    assert spearman(x, np.array([10.0, 20.0, 20.0, 40.0, 0.0])) == 1.0  # ties share their average rank
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(4), np.arange(4.0))) and np.isnan(spearman(x[:2], x[:2]))
