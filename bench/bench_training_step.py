"""Seconds per tiny-SAM training step, float32 against bfloat16 autocast, in one run.

    python bench/bench_training_step.py [--steps 8] [--threads 2] [--device cpu]

Builds the trainer's model from the shipped tiny SAM's weights and times ``optimisation_step``
of packaging/train_tiny_sam.py with stage 14's settings (batch 4, 4 prompt sets per image,
varied_thin scenes, grouping loss 0.5), alternating the two precisions step by step on
the same pre-rendered batches, so a drift in the machine's speed hits both alike. The first
step of each precision is a warm-up and is not counted. Prints the median seconds per step of
each, their ratio, and the mean training loss of each over the timed steps (the two should
agree to about a percent: bfloat16 keeps 8 bits of mantissa).

Then the corrective clicks of a GPU-sized batch (32 images × 4 prompt sets, masks shifted 5 px
from their truths): ``corrective_click`` one set after another against ``next_clicks`` (the
trainer's threads), medians of 5.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.paths import TINY_SAM_PATH  # noqa: E402
from core.prompting.click_simulation import corrective_click  # noqa: E402
from core.synthetic.training_examples import sample_example_seeded  # noqa: E402


def load_trainer():
    """packaging/train_tiny_sam.py as a module (it is a script, not a package member)."""
    spec = importlib.util.spec_from_file_location("train_tiny_sam", ROOT / "packaging" / "train_tiny_sam.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per precision (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    trainer = load_trainer()
    args = trainer.parse_arguments(["--init", str(TINY_SAM_PATH), "--device", options.device, "--batch-size", "4",
                                    "--prompts-per-image", "4", "--scenes", "varied_thin", "--max-clicks", "4",
                                    "--random-click-share", "0.25", "--all-outputs-weight", "0.5",
                                    "--grouping-weight", "0.5", "--lr", "1e-6"])
    sam = trainer.build_model(args).to(args.device).train()
    head = trainer.build_grouping_head(sam, args)
    optimizer = torch.optim.AdamW(trainer.trained_parameters(sam, head), lr=args.lr)
    batches = [[sample_example_seeded((1, step, i, 256, 4, "varied_thin")) for i in range(4)]
               for step in range(options.steps + 1)]
    seconds = {"fp32": [], "bf16": []}
    losses = {"fp32": [], "bf16": []}
    for step, examples in enumerate(batches):
        n_clicks = 1 + step % 4
        for precision in seconds:
            args.precision = precision
            rng = np.random.default_rng(step)
            start = time.perf_counter()
            loss, _, _ = trainer.optimisation_step(sam, optimizer, examples, n_clicks, args, rng, head)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if step > 0:
                seconds[precision].append(time.perf_counter() - start)
                losses[precision].append(loss.item())
    fp32, bf16 = statistics.median(seconds["fp32"]), statistics.median(seconds["bf16"])
    print(f"{options.device}, {options.threads} threads, {options.steps} steps each: "
          f"fp32 {fp32:.2f} s/step, bf16 autocast {bf16:.2f} s/step, ratio {fp32 / bf16:.2f}x")
    print(f"mean loss: fp32 {np.mean(losses['fp32']):.4f}, bf16 {np.mean(losses['bf16']):.4f}")
    time_clicks(trainer)


def time_clicks(trainer) -> None:
    """Serial corrective clicks against the trainer's threaded ``next_clicks`` on 128 prompt sets."""
    examples = [sample_example_seeded((2, 0, i, 256, 4, "varied_thin")) for i in range(32)]
    truths = np.concatenate([truth for _, truth, _, _ in examples]) > 0.5
    masks = np.roll(truths, 5, axis=2)
    serial, threaded = [], []
    for _ in range(5):
        start = time.perf_counter()
        one_by_one = [corrective_click(mask, truth) for mask, truth in zip(masks, truths)]
        middle = time.perf_counter()
        in_threads = trainer.next_clicks(masks, truths)
        threaded.append(time.perf_counter() - middle)
        serial.append(middle - start)
        assert in_threads == [click or ((0, 0), -1) for click in one_by_one]
    one, many = statistics.median(serial), statistics.median(threaded)
    print(f"corrective clicks of {len(masks)} prompt sets: one by one {1e3 * one:.0f} ms, "
          f"in {trainer.CLICK_THREADS} threads {1e3 * many:.0f} ms, ratio {one / many:.2f}x")


if __name__ == "__main__":
    main()
