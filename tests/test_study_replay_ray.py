"""The same replay on a local Ray cluster (2 workers) gives the rows of the single-process run."""

import functools
import json
import operator

import ray  # a test dependency (pyproject.toml [test]): a missing Ray fails here, it is not skipped
import torch

from core.analysis.ray_map import map_images
from core.analysis.study_replay import replay_study
from core.models.sam_engine import SamEngine
from tests.replay_helpers import csv_texts, tiny_study

TIMEOUT_S = 120  # per image: a stuck worker fails the test instead of hanging CI


# a worker factory the Ray workers can unpickle (this test module is not importable there):
# calling it returns partial(mul, 2), the per-item function
_double = functools.partial(functools.partial, operator.mul, 2)


def test_map_images_starts_local_ray_keeps_the_order_and_shuts_it_down():
    assert not ray.is_initialized()
    results = list(map_images(_double, range(7), ray_address="local", workers=2, timeout_s=TIMEOUT_S))
    assert results == [0, 2, 4, 6, 8, 10, 12] and not ray.is_initialized()
    assert list(map_images(_double, range(3))) == [0, 2, 4]  # no Ray: this process


def test_replay_command_with_ray_equals_the_single_process_replay(tmp_path, capsys):
    from core.cli import main

    engine = SamEngine.from_checkpoint(None, "cpu", cache_dir=False)
    dataset, results = tiny_study(tmp_path, engine, categories=2, images=2, timesteps=5)
    assert main(["replay", str(results), "--dataset", str(dataset), "--device", "cpu", "--no-disk-cache",
                 "--interventions", "leave-one-out", "--ray", "local", "--timeout", str(TIMEOUT_S),
                 "--out", str(tmp_path / "ray")]) == 0
    summary = json.loads(capsys.readouterr().out)
    # recorded here with this process's torch threads, replayed by workers with one: last bits may differ
    assert summary["images_replayed"] == 4 and summary["reproduction"]["max_abs_difference"] <= 0.01
    assert not ray.is_initialized()  # the command started local Ray and shut it down
    # the workers ran one torch thread each; so does this replay: the same reduction order, the same rows
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = replay_study(results, dataset, tmp_path / "single", engine, interventions="leave-one-out")
    finally:
        torch.set_num_threads(threads)
    assert single["images_replayed"] == 4 and single["prompt_sets_decoded"] == summary["prompt_sets_decoded"]
    assert csv_texts(tmp_path / "ray") == csv_texts(tmp_path / "single")
