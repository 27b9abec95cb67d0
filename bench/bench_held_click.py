"""A click as a person makes it (the button held ~80 ms): from the release to the painted mask,
with SAM decoding while the button is down (the app) against decoding after the release (the
obvious way, the app's with ``ImageCanvas.anticipate`` off).

    python bench/bench_held_click.py [--models tiny vit_b] [--clicks 20] [--press-ms 80]

The real main window (offscreen), the first demo image, random inclusion clicks; the mouse
press, ``--press-ms`` of event loop, then the release. Clicks alternate between the two ways,
so a drift in the machine's speed hits both alike. Reported: medians from the release to the
mask painted, their ratio, and the median from the press (what the annotator waits in all).
Presses of people last ~100 ms (often 60–150); a press shorter than
``desktop.image_canvas.ANTICIPATE_AFTER_MS`` starts no early decode, and one shorter than the
decode gains only part of it.
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
import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from bench_annotation_app import (REST_BETWEEN_CLICKS_S, bench_workspace, model_checkpoint, ready_window,
                                  spin_until)  # noqa: E402
from core.paths import DEMO_DATASET  # noqa: E402
from core.prompting.study import study_from_image_datasets  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402


def wait_ms(milliseconds: int) -> None:
    """Run the event loop for this long (timers fire, the worker's signals arrive)."""
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def held_clicks(window: MainWindow, points: list[tuple[int, int]], press_ms: int) -> dict[bool, list[tuple]]:
    """For each point a held click, alternately with and without the early decode; per way a
    list of (seconds release → painted, seconds press → painted)."""
    controller, canvas = window.controller, window.canvas
    painted: dict[str, float] = {}
    controller.mask_ready.connect(lambda _mask, _overlay: painted.__setitem__("t", time.perf_counter()))
    results: dict[bool, list[tuple]] = {True: [], False: []}
    for n, (x, y) in enumerate(points):
        early = n % 2 == 0
        canvas.anticipate = early
        target = len(controller.record.timesteps) + 1
        painted.clear()
        position = canvas.mapFromScene(QPointF(x + .5, y + .5))
        pressed = time.perf_counter()
        QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)
        wait_ms(press_ms)
        released = time.perf_counter()
        QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)
        spin_until(lambda: "t" in painted and len(controller.record.timesteps) == target
                   and not window._secondary.isActive())
        if painted["t"] < released:
            raise RuntimeError("a mask was shown before its click was released")
        results[early].append((painted["t"] - released, painted["t"] - pressed))
        QTest.qWait(int(1000 * REST_BETWEEN_CLICKS_S))
    canvas.anticipate = True
    return results


def bench_model(name: str, clicks: int, press_ms: int, folder: Path) -> dict:
    window = ready_window(study_from_image_datasets(DEMO_DATASET), folder, f"session_{name}",
                          model_checkpoint(name, folder))
    controller = window.controller
    height, width = controller.loaded.image.shape[:2]
    rng = np.random.default_rng(1)
    points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(2 + 2 * clicks)]
    held_clicks(window, points[:2], press_ms)  # warm-up
    results = {True: [], False: []}
    for half in (points[2:2 + clicks], points[2 + clicks:]):  # two sequences from no points
        controller.clear_points()
        spin_until(lambda: controller.shown is None and not window._secondary.isActive())
        for way, values in held_clicks(window, half, press_ms).items():
            results[way] += values
    window.close()
    return {way: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
            for way, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "vit_b"])
    parser.add_argument("--clicks", type=int, default=20, help="clicks per sequence; two sequences")
    parser.add_argument("--press-ms", type=int, default=80)
    args = parser.parse_args()
    with bench_workspace() as (_, tmp):
        for name in args.models:
            r = bench_model(name, args.clicks, args.press_ms, tmp)
            (early, early_total), (late, late_total) = r[True], r[False]
            print(f"{name:>6}: {args.press_ms} ms press, release → painted mask {1000 * early:.1f} ms with the "
                  f"decode started during the press vs {1000 * late:.1f} ms after the release (ratio "
                  f"{early / late:.2f}); press → painted {1000 * early_total:.1f} vs {1000 * late_total:.1f} ms",
                  flush=True)


if __name__ == "__main__":
    main()
