"""Embedding and decode speed of SamEngine, against segment-anything's SamPredictor.

    python bench/bench_sam_engine.py [--models tiny vit_b vit_h] [--device cpu|cuda] [--repeats 20]

For each model: the time of one embedding (ours, cache disabled, and SamPredictor.set_image),
the time of one 3-point multimask decode postprocessed to the image (ours and
SamPredictor.predict on the same embedding and points), their ratio (goal ≤ 1.2), and a batch
of 32 jittered prompt sets in one decoder call. Official models are randomly initialised: speed
does not depend on the weights. Medians over --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.models.checkpoint import ModelIdentity, load_tiny_sam  # noqa: E402
from core.models.device import device_description, select_device  # noqa: E402
from core.models.embedding_cache import EmbeddingCache  # noqa: E402
from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, build_sam  # noqa: E402
from core.models.sam_engine import SamEngine  # noqa: E402
from core.synthetic.scenes import render_scene  # noqa: E402


def median_seconds(function, repeats: int, device: torch.device) -> float:
    function()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(name: str, device: torch.device, repeats: int, precision: str) -> dict:
    if name == "tiny":
        sam, identity = load_tiny_sam()
    else:
        torch.manual_seed(0)
        sam, identity = build_sam(OFFICIAL_ARCHITECTURES[name]), ModelIdentity(name, "0" * 64, "random")
    engine = SamEngine(sam, identity, device, precision, cache=EmbeddingCache(memory_items=0, directory=None))
    predictor = SamPredictor(engine.sam)
    image = render_scene(np.random.default_rng(0), 480, 640).image
    points, labels = np.array([[200, 150], [400, 300], [100, 400]]), np.array([1, 1, 0])
    embed_repeats = repeats if name == "tiny" or device.type == "cuda" else 2
    ours_embed = median_seconds(lambda: engine.embed(image), embed_repeats, device)
    predictor_embed = median_seconds(lambda: predictor.set_image(image), embed_repeats, device)
    embedding = engine.embed(image)
    ours_decode = median_seconds(lambda: engine.decode(embedding, points, labels), repeats, device)
    predictor_decode = median_seconds(lambda: predictor.predict(points, labels), repeats, device)
    jitter = points[None] + np.random.default_rng(1).integers(-4, 5, size=(32, 3, 2))
    batch_decode = median_seconds(lambda: engine.decode_batch(embedding, jitter, np.repeat(labels[None], 32, 0)),
                                  repeats, device)
    return dict(model=name, embed_ms=1000 * ours_embed, predictor_embed_ms=1000 * predictor_embed,
                decode_ms=1000 * ours_decode, predictor_decode_ms=1000 * predictor_decode,
                decode_ratio=ours_decode / predictor_decode, batch32_ms=1000 * batch_decode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "vit_b"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    print(f"device: {device_description(device)}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"precision {args.precision}, image 640×480, 3 points, multimask")
    print(f"{'model':6} {'embed ms':>10} {'predictor':>10} {'decode ms':>10} {'predictor':>10} {'ratio':>6} {'32 sets ms':>11}")
    for name in args.models:
        r = bench_model(name, device, args.repeats, args.precision)
        print(f"{r['model']:6} {r['embed_ms']:10.1f} {r['predictor_embed_ms']:10.1f} {r['decode_ms']:10.2f} "
              f"{r['predictor_decode_ms']:10.2f} {r['decode_ratio']:6.2f} {r['batch32_ms']:11.2f}", flush=True)


if __name__ == "__main__":
    main()
