"""``pointprompt replay`` end to end on a tiny synthetic study."""

import json

import pytest

from core.cli import main
from core.models.sam_engine import SamEngine
from tests.replay_helpers import tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    return tiny_study(root, SamEngine.from_checkpoint(None, device="cpu", cache_dir=False), categories=2, images=1,
                      timesteps=6, annotators=2)


def run(capsys, *args):
    code = main(["replay", *map(str, args)])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def test_replay_command_writes_the_tables_and_resumes(study, tmp_path, capsys):
    dataset, results = study
    code, summary, err = run(capsys, results, "--dataset", dataset, "--device", "cpu", "--no-disk-cache",
                             "--move-px", 4, "--out", tmp_path / "out")
    assert code == 0 and "replayed 2/2 images" in err
    assert summary["images_replayed"] == 2 and summary["reproduction"]["over_tolerance"] == 0
    assert summary["interventions"] == ["leave_one_out", "move_toward", "move_away", "reorder"]
    assert [r["annotator"] for r in summary["leave_one_out"]] == ["st1", "st2", "all"]
    for name in ("timesteps.csv", "clicks.csv", "summary.csv", "skipped.csv", "summary.md", "replay_summary.json"):
        assert (tmp_path / "out" / name).is_file()
    header, *rows = (tmp_path / "out" / "timesteps.csv").read_text().splitlines()
    assert len(rows) == 2 * 2 * 6 and header.startswith("category,annotator,image_index,timestep")
    code, again, _ = run(capsys, results, "--dataset", dataset, "--device", "cpu", "--no-disk-cache",
                         "--move-px", 4, "--out", tmp_path / "out")
    assert code == 0 and (again["images_resumed"], again["images_replayed"]) == (2, 0)


def test_replay_command_errors_are_one_line(study, tmp_path, capsys):
    dataset, results = study
    code, _, err = run(capsys, results, "--dataset", dataset, "--device", "cpu", "--interventions", "swap",
                       "--out", tmp_path / "out")
    assert code == 2 and "unknown intervention 'swap'" in err
    run(capsys, results, "--dataset", dataset, "--device", "cpu", "--interventions", "none", "--category", "cat00",
        "--out", tmp_path / "other")
    code, _, err = run(capsys, results, "--dataset", dataset, "--device", "cpu", "--out", tmp_path / "other")
    assert code == 2 and "other settings" in err
