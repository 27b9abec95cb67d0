"""Cost of SAM's gradient maps per click, against one plain decode, and of batched prompt variants.

    python bench/bench_sam_maps.py [--models tiny vit_b] [--device cpu|cuda] [--repeats 10]

For each model, on a 640×480 scene with 3 points (2 inclusion, 1 exclusion), medians over
--repeats runs after a warm-up:

* all maps and scalars of one click (``compute_sam_maps``: one decoder call with gradients, a
  backward per score, one batched decoder call of 4 jittered + 3 leave-one-out prompt sets,
  postprocessing to the image) against one plain ``SamEngine.decode`` of the same prompt set
  (the app's decode: three candidates upscaled to the image). Goal: ≤ 5× one decode;
* the 7 prompt variants in one decoder call against one decoder call per variant. Goal ≥ 5×.

Official models are randomly initialised and use a random embedding: the maps touch only the
prompt encoder and mask decoder (the same for vit_h, vit_l and vit_b), whose cost does not
depend on the weights or on the image. The tiny model is the shipped one, on a real embedding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sam_engine import median_seconds  # noqa: E402

from core.gradients.sam_maps import MapOptions, _prompt_variants, compute_sam_maps  # noqa: E402
from core.models.checkpoint import ModelIdentity, load_tiny_sam  # noqa: E402
from core.models.device import device_description, select_device  # noqa: E402
from core.models.embedding_cache import EmbeddingCache, ImageEmbedding  # noqa: E402
from core.models.prompt_decoding import decode_low_res  # noqa: E402
from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, build_sam  # noqa: E402
from core.models.sam_engine import SamEngine  # noqa: E402
from core.synthetic.scenes import render_scene  # noqa: E402

POINTS, LABELS = np.array([[200.0, 150.0], [400.0, 300.0], [100.0, 400.0]]), np.array([1, 1, 0])


def engine_and_embedding(name: str, device: torch.device) -> tuple[SamEngine, ImageEmbedding]:
    if name == "tiny":
        sam, identity = load_tiny_sam()
    else:
        torch.manual_seed(0)
        sam, identity = build_sam(OFFICIAL_ARCHITECTURES[name]), ModelIdentity(name, "0" * 64, "random")
    engine = SamEngine(sam, identity, device, cache=EmbeddingCache(memory_items=0, directory=None))
    if name == "tiny":
        return engine, engine.embed(render_scene(np.random.default_rng(0), 480, 640).image)
    size = engine.sam.image_encoder.img_size
    features = torch.randn(1, 256, 64, 64, device=engine.device)
    return engine, ImageEmbedding(features, (480, 640), (size * 3 // 4, size), "random")


def bench_model(name: str, device: torch.device, repeats: int) -> dict:
    engine, embedding = engine_and_embedding(name, device)
    decode = median_seconds(lambda: engine.decode(embedding, POINTS, LABELS), repeats, device)
    maps_result = {}

    def all_maps():
        maps_result["last"] = compute_sam_maps(engine, embedding, POINTS, LABELS)

    maps = median_seconds(all_maps, repeats, device)
    variant_points, variant_labels = _prompt_variants(POINTS, LABELS, embedding.original_size, MapOptions())
    coords = torch.as_tensor(engine.transform.apply_coords(variant_points, embedding.original_size),
                             dtype=torch.float, device=engine.device)
    labels = torch.as_tensor(variant_labels, dtype=torch.int, device=engine.device)

    @torch.no_grad()
    def batched():
        decode_low_res(engine.sam, embedding.features, coords, labels)

    @torch.no_grad()
    def looped():
        for v in range(len(coords)):
            decode_low_res(engine.sam, embedding.features, coords[v:v + 1], labels[v:v + 1])

    batch = median_seconds(batched, repeats, device)
    loop = median_seconds(looped, repeats, device)
    stages = maps_result["last"].seconds
    return {"model": name, "decode_ms": decode * 1e3, "maps_ms": maps * 1e3, "maps_ratio": maps / decode,
            "stages_ms": {k: v * 1e3 for k, v in stages.items()}, "variants": len(coords),
            "batched_ms": batch * 1e3, "looped_ms": loop * 1e3, "batching_speedup": loop / batch}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "vit_b"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    print(f"{device_description(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"640×480, 3 points; medians of {args.repeats}")
    print("| model | one decode | all maps | ratio (goal ≤ 5) | of which gradients / variants / postprocess "
          "| 7 variants: one call | one call each | speed-up (goal ≥ 5) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models:
        r = bench_model(name, device, args.repeats)
        s = r["stages_ms"]
        print(f"| {name} | {r['decode_ms']:.1f} ms | {r['maps_ms']:.1f} ms | {r['maps_ratio']:.1f} | "
              f"{s['gradients']:.0f} / {s['intervention']:.0f} / {s['postprocess']:.0f} ms | {r['batched_ms']:.1f} ms | "
              f"{r['looped_ms']:.1f} ms | {r['batching_speedup']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
