"""Replay throughput on a synthetic study: one process vs Ray with 2 workers, peak memory, extrapolation.

    python bench/bench_study_replay.py [--categories 16] [--images 4] [--timesteps 30] [--annotators 1]
                                       [--interventions leave-one-out,move,reorder] [--workers 2]
                                       [--model tiny|vit_h] [--device cpu|cuda] [--no-ray] [--two-threads]

Writes a synthetic study (core.synthetic.prompt_study: PointPrompt's shape, 16 categories, about
30 timesteps per sequence; ``--images`` per category instead of 400) recorded with the model,
then replays it with ``pointprompt replay``'s core (core.analysis.study_replay), each
configuration in a fresh child process:

* single, 1 torch thread (``--two-threads``: also 2 threads); Ray ``--workers`` workers of 1
  thread each (``--ray local``), all with the interventions;
* single, recorded sets only (``--interventions none``): the "replay reproduces" pass;
* single on a quarter of the categories, to show that peak memory does not grow with the study.

Prints prompt sets decoded per second (wall clock, embeddings included, and decode only), peak
RSS of the child (the Ray driver's only: workers are Ray's processes), and the extrapolation to
the published study (198,590 recorded prompt sets, 16 × 400 images), linear in images.
``--model vit_h`` builds a randomly initialised ViT-H (speed does not depend on the weights),
for a GPU: ``--device cuda --no-ray``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PUBLISHED_PROMPT_SETS = 198_590
PUBLISHED_IMAGES = 16 * 400


@dataclass(frozen=True)
class RandomViTH:
    """An EngineSpec-like recipe for a randomly initialised ViT-H (for workers and this process)."""

    device: str = "cuda"
    threads: int | None = None

    def build(self):
        import torch

        from core.models.checkpoint import ModelIdentity
        from core.models.embedding_cache import EmbeddingCache
        from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, build_sam
        from core.models.sam_engine import SamEngine

        if self.threads:
            torch.set_num_threads(self.threads)
        torch.manual_seed(0)
        sam = build_sam(OFFICIAL_ARCHITECTURES["vit_h"])
        return SamEngine(sam, ModelIdentity("vit_h", "0" * 64, "random"), self.device,
                         "bf16" if self.device.startswith("cuda") else "fp32", EmbeddingCache(directory=None))

    def model_key(self) -> str:
        return "vit_h-random"


def spec_for(model: str, device: str, threads: int):
    from core.analysis.image_replay import EngineSpec

    return EngineSpec(None, device, disk_cache=False, threads=threads) if model == "tiny" else RandomViTH(device, threads)


def child(args: argparse.Namespace) -> None:
    """One replay configuration in this (fresh) process; prints its summary and peak RSS as JSON."""
    import torch

    from core.analysis.study_replay import replay_study

    spec = spec_for(args.model, args.device, args.threads)
    engine = spec if args.ray else spec.build()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    summary = replay_study(args.results, args.dataset, args.out, engine, interventions=args.interventions,
                           categories=args.category, ray_address="local" if args.ray else None,
                           workers=args.workers, timeout_s=1800)
    wall = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keep = ("images_replayed", "prompt_sets_decoded", "decoder_calls", "embed_seconds", "decode_seconds",
            "reproduction", "click_rows")
    print(json.dumps({**{k: summary[k] for k in keep}, "wall": wall, "peak_rss_mib": peak_mib}))


def run_child(script_args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *script_args], capture_output=True, text=True,
                          check=False, env={**os.environ, "RAY_DEDUP_LOGS": "0"})
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {' '.join(script_args)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=16)
    parser.add_argument("--images", type=int, default=4, help="images per category (PointPrompt: 400)")
    parser.add_argument("--timesteps", type=int, default=30)
    parser.add_argument("--annotators", type=int, default=1)
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--interventions", default="leave-one-out,move,reorder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", choices=("tiny", "vit_h"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--two-threads", action="store_true", help="also one process with 2 torch threads")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--ray", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--category", action="append", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    import torch

    from core.synthetic.prompt_study import write_synthetic_study

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    dataset, results = root / "dataset", root / "results"
    started = time.monotonic()
    study = write_synthetic_study(spec_for(args.model, args.device, 1).build(), dataset, results,
                                  categories=args.categories, images=args.images, timesteps=args.timesteps,
                                  annotators=args.annotators, size=tuple(args.size))
    print(f"synthetic study: {study['categories']} categories × {args.images} images × {args.annotators} annotator(s), "
          f"{study['prompt_sets']} recorded prompt sets, {args.size[1]}×{args.size[0]} px, model {args.model} on "
          f"{args.device} (written in {time.monotonic() - started:.0f} s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    common = ["--results", str(results), "--dataset", str(dataset), "--model", args.model, "--device", args.device,
              "--workers", str(args.workers)]
    configs = [("single, recorded sets only", ["--interventions", "none", "--threads", "1"]),
               ("single, 1 thread", ["--interventions", args.interventions, "--threads", "1"])]
    if args.two_threads:
        configs.append(("single, 2 threads", ["--interventions", args.interventions, "--threads", "2"]))
    if not args.no_ray:
        configs.append((f"Ray local, {args.workers} workers × 1 thread",
                        ["--interventions", args.interventions, "--threads", "1", "--ray"]))
    quarter = [f"cat{c:02d}" for c in range(max(1, args.categories // 4))]
    configs.append((f"single, 1 thread, {len(quarter)} categories (memory)",
                    ["--interventions", args.interventions, "--threads", "1"] + sum((["--category", c] for c in quarter), [])))
    print("| configuration | images | prompt sets decoded | decoder calls | sets/call | wall s | sets/s (wall) | "
          "sets/s (decode only) | embed s | peak RSS MiB | max abs IoU diff vs recorded |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    measured = {}
    for number, (name, extra) in enumerate(configs):
        found = run_child(common + extra + ["--out", str(root / f"out{number}")])
        measured[name] = found
        decode_rate = found["prompt_sets_decoded"] / found["decode_seconds"] if found["decode_seconds"] else float("nan")
        print(f"| {name} | {found['images_replayed']} | {found['prompt_sets_decoded']} | {found['decoder_calls']} | "
              f"{found['prompt_sets_decoded'] / max(1, found['decoder_calls']):.1f} | {found['wall']:.1f} | "
              f"{found['prompt_sets_decoded'] / found['wall']:.1f} | {decode_rate:.1f} | {found['embed_seconds']:.1f} | "
              f"{found['peak_rss_mib']:.0f} | {found['reproduction']['max_abs_difference']:.2g} |", flush=True)
    images = args.categories * args.images
    scale = PUBLISHED_PROMPT_SETS / study["prompt_sets"]  # embeddings: ×PUBLISHED_IMAGES / images, about the same
    print(f"\nextrapolation to the published study ({PUBLISHED_PROMPT_SETS} recorded prompt sets, "
          f"{PUBLISHED_IMAGES} images; ×{scale:.0f} this study's recorded sets):")
    for name, found in measured.items():
        if "categories (memory)" in name:
            continue
        hours = found["wall"] * scale / 3600
        print(f"  {name}: {hours:.1f} h wall ({found['prompt_sets_decoded'] * scale:,.0f} prompt sets decoded, "
              f"{found['decoder_calls'] * scale:,.0f} decoder calls)")


if __name__ == "__main__":
    main()
