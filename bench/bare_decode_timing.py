"""The bare decoder's latency, in a plain process of its own: the baseline of the app bench.

    python bench/bare_decode_timing.py CHECKPOINT|tiny IMAGE.npy THREADS

Loads the model (``tiny``: the shipped tiny SAM), embeds the (H, W, 3) uint8 image once and
prints ``ready``. Then, for each line read on stdin, a JSON prompt set ``[[x, y, label], ...]``,
it times ``SamEngine.decode`` on the cached embedding and prints the seconds. The app bench
sends one prompt set after each click it measures, so that the two alternate click by click:
a drift in the machine's speed hits both alike, and this process rests between decodes about
as long as the app does (an idle CPU decodes more slowly than a busy loop: caches and thread
pools go cold). No Qt is imported.
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
    checkpoint, image, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    engine = SamEngine.from_checkpoint(None if checkpoint == "tiny" else Path(checkpoint), device="cpu",
                                       cache_dir=False)
    embedding = engine.embed(np.load(image))
    print("ready", flush=True)
    for line in sys.stdin:
        points = np.array(json.loads(line), dtype=np.float64).reshape(-1, 3)
        start = time.perf_counter()
        engine.decode(embedding, points[:, :2], points[:, 2].astype(np.int64))
        print(time.perf_counter() - start, flush=True)


if __name__ == "__main__":
    main()
