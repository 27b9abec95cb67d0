"""The scripts that make the shipped resources still run and still make the same files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from core.io.safe_npy import read_npy
from core.models.checkpoint import load_sam
from core.paths import DEMO_DATASET

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_dataset_is_reproduced(tmp_path):
    """Masks are integer geometry and must be equal. Images are rounded from float32 texture
    maths (sin, cubic resizing), whose last bits may differ on another CPU: a value may move by
    one grey level, in at most 0.01% of the values (seen: none, on two instruction sets)."""
    load_script("make_demo_dataset").main(["--out", str(tmp_path)])
    for category_dir in sorted(DEMO_DATASET.iterdir()):
        for name in ("samples.npy", "labels.npy"):
            shipped = read_npy(category_dir / name)
            fresh = read_npy(tmp_path / category_dir.name / name)
            assert len(shipped) == len(fresh)
            for a, b in zip(shipped, fresh):
                assert a.shape == b.shape and a.dtype == b.dtype
                if name == "labels.npy":
                    np.testing.assert_array_equal(a, b)
                else:
                    difference = np.abs(a.astype(np.int16) - b)
                    assert difference.max() <= 1 and np.count_nonzero(difference) <= 1e-4 * a.size


def test_training_script_runs_and_writes_a_loadable_tiny_sam(tmp_path):
    out = tmp_path / "tiny.pth"
    threads = torch.get_num_threads()
    load_script("train_tiny_sam").main(["--steps", "2", "--batch-size", "1", "--prompts-per-image", "2",
                                        "--threads", "1", "--save-every", "1", "--out", str(out)])
    torch.set_num_threads(threads)
    sam, identity = load_sam(out, expected_variant="tiny_small")  # from scratch: the small first model
    assert identity.variant == "tiny_small"
    log = [json.loads(line) for line in out.with_suffix(".log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [1, 2] and all(np.isfinite(r["loss"]) for r in log)
    assert torch.isfinite(next(sam.parameters())).all()
    load_script("train_tiny_sam").main(["--steps", "1", "--batch-size", "1", "--prompts-per-image", "2",
                                        "--threads", "1", "--save-every", "1", "--seed", "5", "--out", str(out)])
    torch.set_num_threads(threads)
    log = [json.loads(line) for line in out.with_suffix(".log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["seed"]) for r in log] == [(1, 5)]  # a rerun's log replaces the old one with its weights


def test_worker_rendering_gives_the_same_model_whatever_the_worker_count(tmp_path):
    threads = torch.get_num_threads()
    train = load_script("train_tiny_sam")
    states = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.pth"
        train.main(["--steps", "1", "--batch-size", "2", "--prompts-per-image", "2", "--threads", "1",
                    "--workers", str(workers), "--out", str(out)])
        states.append(torch.load(out))
    torch.set_num_threads(threads)
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])



def _attention_hits_the_click(sam, arch) -> int:
    """How many of four clicks the first token→image attention of ``sam`` peaks at (±1 cell)."""
    attention = sam.mask_decoder.transformer.layers[0].cross_attn_token_to_image
    grid = arch.embedding_grid
    cell = arch.img_size / grid
    dense_pe = sam.prompt_encoder.get_dense_pe()[0].flatten(1).T  # (g·g, C), row-major cells
    hits = 0
    with torch.no_grad():
        for x, y in [(20.0, 30.0), (130.0, 70.0), (240.0, 200.0), (100.0, 180.0)]:
            point_pe = sam.prompt_encoder.pe_layer.forward_with_coords(
                torch.tensor([[[x + 0.5, y + 0.5]]]), (arch.img_size,) * 2)[0]
            logits = attention.q_proj(point_pe) @ attention.k_proj(dense_pe).T  # (1, g·g)
            row, col = divmod(int(logits.argmax()), grid)
            hits += abs(col - x // cell) <= 1 and abs(row - y // cell) <= 1
    return hits


def test_aligned_decoder_attention_looks_at_the_click_from_the_start():
    from core.models.sam_architecture import TINY_ARCHITECTURE, build_sam

    train = load_script("train_tiny_sam")
    torch.manual_seed(0)
    plain = build_sam(TINY_ARCHITECTURE)
    torch.manual_seed(0)
    aligned = build_sam(TINY_ARCHITECTURE)
    train.align_decoder_attention(aligned, gain=2.0)
    attention = aligned.mask_decoder.transformer.layers[0].cross_attn_token_to_image
    assert torch.equal(attention.q_proj.weight, attention.k_proj.weight)
    assert _attention_hits_the_click(aligned, TINY_ARCHITECTURE) == 4
    assert _attention_hits_the_click(plain, TINY_ARCHITECTURE) <= 1  # segment-anything's default start
