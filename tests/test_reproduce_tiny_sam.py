"""packaging/reproduce_tiny_sam.sh runs its whole chain, from random weights to a loadable tiny SAM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.models.checkpoint import load_sam

ROOT = Path(__file__).resolve().parents[1]


def test_every_stage_runs_and_ends_in_the_shipped_architecture(tmp_path):
    names = ("S1", "S2", "S3", "S3_STOP", "S4", "S5", "S6", "S6_STOP", "S8", "S9", "S10", "S11", "S12", "S13", "S14", "S15")
    steps = {name: "1" for name in names}
    env = {**os.environ, **steps, "PYTHON": sys.executable, "THREADS": "1", "BATCH": "1"}
    result = subprocess.run(["sh", str(ROOT / "packaging" / "reproduce_tiny_sam.sh"), str(tmp_path / "run")],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    for stage in ("stage1.pth", "stage5.pth", "stage6/model.pth", "stage7.pth", "stage8/model.pth",
                  "stage9/model.pth", "stage10/model.pth", "stage11/model.pth", "stage12/model.pth",
                  "stage13/model.pth", "stage14/model.pth", "stage15/model.pth"):
        assert (tmp_path / "run" / stage).is_file(), stage
    assert load_sam(tmp_path / "run" / "stage5.pth")[1].variant == "tiny_small"
    assert load_sam(tmp_path / "run" / "tiny_sam.pth")[1].variant == "tiny"  # the shipped architecture
