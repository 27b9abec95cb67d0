"""The UI thread's longest stall around a click on a large image: masks encoded in the worker
(the app) against encoded on the UI thread (the obvious way, and the app's before).

    python bench/bench_large_image_click.py [--side 3000] [--clicks 8]

A synthetic 3000×2000 image (a disc on a background) and its mask as a folder study, the
shipped tiny SAM, the real main window offscreen. For each click: the longest gap between 5 ms
timer ticks on the UI thread from just after the click (its own handling is ~1 ms) until the
timestep is recorded and the thumbnails and plot are drawn, and the time until the mask is
painted. Medians over the clicks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import desktop  # noqa: E402,F401  before torch: it sets the app's OpenMP spin count (see desktop/__init__.py)
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

import desktop.inference_worker as inference_worker  # noqa: E402
from bench_annotation_app import bench_workspace, longest_stall, ready_window  # noqa: E402
from core.prompting.study import study_from_folder  # noqa: E402


def make_study(folder: Path, width: int, height: int):
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    image = np.full((height, width, 3), 40, np.uint8)
    truth = np.zeros((height, width), np.uint8)
    centre, radius = (width // 2, height // 2), height // 3
    cv2.circle(image, centre, radius, (230, 200, 60), -1)
    cv2.circle(truth, centre, radius, 255, -1)
    cv2.imwrite(str(folder / "images" / "large.png"), image)
    cv2.imwrite(str(folder / "masks" / "large.png"), truth)
    return study_from_folder(folder / "images", folder / "masks")


def measure(folder: Path, images, clicks: int) -> tuple[float, float]:
    window = ready_window(images, folder, "session")
    c = window.controller
    height, width = c.loaded.image.shape[:2]
    rng = np.random.default_rng(0)
    stalls, paints, painted = [], [], {}
    c.mask_ready.connect(lambda _mask, _overlay: painted.__setitem__("t", time.perf_counter()))
    for _ in range(clicks + 1):  # the first is a warm-up
        x, y = int(rng.integers(width // 3, 2 * width // 3)), int(rng.integers(height // 3, 2 * height // 3))
        target = len(c.record.timesteps) + 1
        start = time.perf_counter()
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton,
                         pos=window.canvas.mapFromScene(QPointF(x + .5, y + .5)))
        stall = longest_stall(lambda: len(c.record.timesteps) == target and not window._secondary.isActive())
        QTest.qWait(30)
        stalls.append(stall)
        paints.append(painted["t"] - start)
    window.close()
    return statistics.median(stalls[1:]), statistics.median(paints[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=3000, help="image width; height is 2/3 of it")
    parser.add_argument("--clicks", type=int, default=8)
    args = parser.parse_args()
    with bench_workspace() as (_, tmp):
        images = make_study(tmp / "study", args.side, args.side * 2 // 3)
        app_stall, app_paint = measure(tmp / "app", images, args.clicks)
        inference_worker.WORKER_ENCODES_ABOVE_PIXELS = 10**12  # the baseline: the UI thread encodes
        ui_stall, ui_paint = measure(tmp / "ui", images, args.clicks)
    print(f"{args.side}×{args.side * 2 // 3} image, tiny SAM, {args.clicks} clicks (medians): longest UI stall per "
          f"click {1000 * app_stall:.0f} ms with masks encoded in the worker vs {1000 * ui_stall:.0f} ms encoded on "
          f"the UI thread (ratio {app_stall / ui_stall:.2f}); click → painted mask {1000 * app_paint:.0f} vs "
          f"{1000 * ui_paint:.0f} ms")


if __name__ == "__main__":
    main()
