"""Train the shipped demo classifier on procedural shapes (CPU), with a fixed seed; resumable.

    nice -n 10 python packaging/train_demo_classifier.py --threads 1 \\
        --out resources/models/demo_classifier.safetensors

Every step renders a fresh batch of labelled shapes (core.synthetic.shape_classes; step k's batch
comes from its own generator seeded by (seed, k), so a resumed run sees the same data), trains
the small CNN of core.models.demo_classifier with AdamW and plain cross-entropy (no label
smoothing: the trust scores read its softmax), linear warm-up then cosine decay. Inputs go
through the same Preprocessing the loaded classifier uses.

Beside ``--out`` it writes ``<out>.log.jsonl`` (running loss and accuracy, validation accuracy,
wall and CPU seconds; rewritten with every save) and, while training, ``<out>.resume.pth`` (model,
optimizer, torch RNG, step, seconds so far; a weights-only torch file). Run the same command again after
an interruption and it resumes from that file; a finished run deletes it. At the end the held-
out test accuracy (a balanced set from its own seed, never trained on) is printed and stored in
``<out>.json`` with the class names, preprocessing, seed, steps and training seconds (wall clock,
and CPU seconds of the process over all its threads).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.atomic import atomic_torch_save, atomic_write_bytes  # noqa: E402
from core.models.classifier import Preprocessing  # noqa: E402
from core.models.demo_classifier import (  # noqa: E402
    DEMO_CLASSIFIER_PATH,
    DemoClassifierMetadata,
    DemoClassifierNet,
    metadata_path,
)
from core.synthetic.shape_classes import CLASSES, balanced_set, sample_batch  # noqa: E402

TEST_SEED = 20261201  # the held-out test set reported in the metadata
VALIDATION_SEED = 20261203  # the smaller set logged during training
PREPROCESSING = Preprocessing(size=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 1 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def accuracy(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on (N, S, S, 3) uint8 images with (N,) labels."""
    model.eval()
    correct = 0
    for start in range(0, len(images), batch):
        x = PREPROCESSING.to_tensor(list(images[start:start + batch])).contiguous(memory_format=torch.channels_last)
        correct += int((model(x).argmax(1).numpy() == labels[start:start + batch]).sum())
    return correct / len(images)


def labelled_set(seed: int, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """A balanced held-out set: (images (N, S, S, 3) uint8, labels (N,) int64)."""
    items = balanced_set(seed, per_class, CLASSES, PREPROCESSING.size)
    return np.stack([item.image for item in items]), np.array([CLASSES.index(i.class_name) for i in items])


def run_config(args: argparse.Namespace) -> dict:
    """The arguments that define a run: a resume state is used only if they match."""
    return dict(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                warmup=args.warmup, weight_decay=args.weight_decay, size=PREPROCESSING.size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: least CPU per step on a shared machine; the shipped model used 1)")
    parser.add_argument("--save-every", type=int, default=100, help="write the resume state and log every N steps")
    parser.add_argument("--eval-every", type=int, default=250, help="log validation accuracy every N steps")
    parser.add_argument("--validation-per-class", type=int, default=50)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop (resumably) after this many steps without changing the --steps schedule")
    parser.add_argument("--out", type=Path, default=DEMO_CLASSIFIER_PATH)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = DemoClassifierNet(len(CLASSES)).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    resume_path = args.out.with_suffix(".resume.pth")
    log_path = args.out.with_suffix(".log.jsonl")
    start_step, elapsed, cpu, records = 0, 0.0, 0.0, []
    if resume_path.is_file():
        state = torch.load(resume_path, map_location="cpu", weights_only=True)
        if state["config"] != run_config(args):
            raise SystemExit(f"{resume_path} is from a run with other arguments ({state['config']}); "
                             "run with those, or delete the file to start afresh")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start_step, elapsed, cpu, records = state["step"], state["elapsed"], state["cpu"], state["records"]
        print(f"resuming from {resume_path} at step {start_step}", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"demo classifier: {n_params / 1e3:.0f}k parameters, {len(CLASSES)} classes, {args.steps} steps of "
          f"{args.batch_size}, seed {args.seed}", flush=True)
    validation = labelled_set(VALIDATION_SEED, args.validation_per_class)
    running_loss = running_acc = None
    started, cpu_started = time.perf_counter() - elapsed, time.process_time() - cpu
    end = min(args.steps, args.stop_after or args.steps)
    for step in range(start_step, end):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, args.warmup)
        images, labels = sample_batch(np.random.default_rng([args.seed, step]), args.batch_size,
                                      CLASSES, PREPROCESSING.size)
        x = PREPROCESSING.to_tensor(list(images)).contiguous(memory_format=torch.channels_last)
        logits = model(x)
        target = torch.from_numpy(labels)
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        acc = float((logits.argmax(1) == target).float().mean())
        running_loss = loss.item() if running_loss is None else 0.95 * running_loss + 0.05 * loss.item()
        running_acc = acc if running_acc is None else 0.95 * running_acc + 0.05 * acc
        done = step + 1
        if done % args.save_every == 0 or done % args.eval_every == 0 or done == end:
            record = dict(step=done, loss=round(running_loss, 4), train_accuracy=round(running_acc, 4),
                          lr=round(optimizer.param_groups[0]["lr"], 6),
                          seconds=round(time.perf_counter() - started, 1),
                          cpu_seconds=round(time.process_time() - cpu_started, 1), seed=args.seed)
            if done % args.eval_every == 0 or done == end:
                record["validation_accuracy"] = round(accuracy(model, *validation), 4)
            print(json.dumps(record), flush=True)
            records.append(record)
            atomic_write_bytes(log_path, "".join(json.dumps(r) + "\n" for r in records).encode())
            atomic_torch_save(dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                                   torch_rng=torch.get_rng_state(), step=done, config=run_config(args),
                                   elapsed=time.perf_counter() - started, cpu=time.process_time() - cpu_started,
                                   records=records), resume_path)
    if end < args.steps:
        print(f"stopped after step {end}; run the same command to resume", flush=True)
        return
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    test_accuracy = accuracy(model, *labelled_set(TEST_SEED, args.test_per_class))
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    atomic_write_bytes(args.out, safetensors.torch.save(state, metadata={"format": "pt"}))
    metadata = DemoClassifierMetadata(
        class_names=list(CLASSES), size=PREPROCESSING.size, mean=PREPROCESSING.mean, std=PREPROCESSING.std,
        test_accuracy=round(test_accuracy, 4), test_images=args.test_per_class * len(CLASSES), seed=args.seed,
        steps=args.steps, training_seconds=round(seconds, 1), cpu_seconds=round(cpu, 1), threads=args.threads)
    atomic_write_bytes(metadata_path(args.out), metadata.to_json().encode())
    resume_path.unlink(missing_ok=True)
    print(f"held-out test accuracy {test_accuracy:.4f} on {metadata.test_images} images; "
          f"{seconds:.0f} s of training ({cpu:.0f} CPU seconds, {args.threads} torch thread(s)); "
          f"wrote {args.out} and {metadata_path(args.out)}", flush=True)


if __name__ == "__main__":
    main()
