"""The bare decoder's latency, in a plain process of its own: the baseline of the app bench.

    python bench/bare_decode_timing.py SPEC.json

SPEC.json: {"checkpoint": path or null (the shipped tiny SAM), "image": path of an (H, W, 3)
uint8 .npy, "prompt_sets": [[[x, y, label], ...], ...], "gap_s": idle seconds after each
decode, "threads": torch threads}. Embeds the image once, then times ``SamEngine.decode`` of
each prompt set on the cached embedding, resting ``gap_s`` after each as the app bench rests
between clicks (an idle CPU decodes more slowly than a busy loop: caches and thread pools go
cold). Prints a JSON list of seconds. No Qt is imported.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.models.sam_engine import SamEngine  # noqa: E402


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    torch.set_num_threads(spec["threads"])
    checkpoint = None if spec["checkpoint"] is None else Path(spec["checkpoint"])
    engine = SamEngine.from_checkpoint(checkpoint, device="cpu")
    embedding = engine.embed(np.load(spec["image"]))
    times = []
    for prompt_set in spec["prompt_sets"]:
        points = np.array(prompt_set, dtype=np.float64).reshape(-1, 3)
        start = time.perf_counter()
        engine.decode(embedding, points[:, :2], points[:, 2].astype(np.int64))
        times.append(time.perf_counter() - start)
        time.sleep(spec["gap_s"])
    print(json.dumps(times))


if __name__ == "__main__":
    main()
