"""The mask's own latency with gradient maps on and off, alternating click by click.

    python bench/bench_maps_latency.py [--models tiny vit_b] [--clicks 20]

On the real main window (offscreen, the demo image), from a mouse click to the painted mask,
as bench/bench_annotation_app.py measures it, with the maps switched on for one click and off
for the next (View → Gradient maps), so a drift in the machine's speed hits both alike:

* an annotator's pace: after each mask the app finishes its work (with maps on: the maps of
  that timestep are computed and recorded), the maps are switched for the next click (and
  whatever switching them on computes is done), then a 150 ms rest before the click;
* a click on the heels of the last: the next click comes 20 ms after the mask is painted,
  while the maps of the last timestep are being computed (maps on) or nothing runs (off). A
  newer click cancels the maps; what it waits for is the step they are in (a backward pass,
  two prompt variants' decode: a few ms with the tiny SAM).

Reported: medians of the click → painted mask times, on vs off, and their ratio. Goal: no
measurable change (ratio within the run-to-run noise of a few %) at an annotator's pace.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_annotation_app import bench_workspace, model_checkpoint, ready_window, spin_until  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from core.paths import DEMO_DATASET  # noqa: E402
from core.prompting.study import study_from_image_datasets  # noqa: E402

REST_S = 0.15
ON_THE_HEELS_S = 0.02


def timed_click(window, x: int, y: int) -> float:
    """Seconds from a click at (x, y) to its mask painted; waits in an event loop the paint wakes."""
    controller, canvas = window.controller, window.canvas
    loop, state = QEventLoop(), {}

    def painted(_mask, _overlay) -> None:
        state["painted"] = time.perf_counter()
        loop.quit()

    controller.mask_ready.connect(painted)
    QTimer.singleShot(60_000, loop.quit)  # a click that paints nothing (it hit a point) ends the bench
    start = time.perf_counter()
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(x + .5, y + .5)))
    if "painted" not in state:
        loop.exec()
    controller.mask_ready.disconnect(painted)
    if "painted" not in state:
        raise TimeoutError(f"the click at ({x}, {y}) painted no mask")
    return state["painted"] - start


def maps_idle(controller) -> bool:
    """No maps being computed or filled in for earlier timesteps."""
    return not controller.maps.computing and controller.maps._backfilling is None


def run(window, points: list[tuple[int, int]], heels: bool) -> tuple[list[float], list[float]]:
    """Latencies with maps on and off, alternating; ``heels``: the next click 20 ms after the paint
    of a first click (at the mirrored point, so the two never fall on each other)."""
    controller = window.controller
    height, width = controller.loaded.image.shape[:2]
    on_times, off_times = [], []
    for n, (x, y) in enumerate(points):
        maps_on = n % 2 == 0
        if heels:  # the first click's maps (on or off) are what the measured click comes into
            controller.maps.set_enabled(maps_on)
            timed_click(window, width - 1 - x, height - 1 - y)
            QTest.qWait(int(1000 * ON_THE_HEELS_S))
            (on_times if maps_on else off_times).append(timed_click(window, x, y))
            controller.maps.set_enabled(False)
            spin_until(lambda: not window._secondary.isActive())
            controller.clear_points()
            spin_until(lambda: controller.shown is None)
        else:  # switched, then idle (switching on computes the maps on show first), then the click
            controller.maps.set_enabled(maps_on)
            spin_until(lambda: maps_idle(controller))
            QTest.qWait(int(1000 * REST_S))
            target = len(controller.record.timesteps) + 1
            (on_times if maps_on else off_times).append(timed_click(window, x, y))
            spin_until(lambda: not window._secondary.isActive() and len(controller.record.timesteps) == target
                       and (not maps_on or controller.record.timesteps[-1].maps) and maps_idle(controller))
        QTest.qWait(int(1000 * REST_S))
    return on_times, off_times


def bench_model(name: str, clicks: int, folder: Path) -> dict:
    checkpoint = model_checkpoint(name, folder)
    window = ready_window(study_from_image_datasets(DEMO_DATASET), folder, f"session_{name}", checkpoint, maps=True)
    rng = np.random.default_rng(1)
    height, width = window.controller.loaded.image.shape[:2]
    points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(2 * clicks)]
    run(window, points[:4], heels=False)  # warm-up
    results = {}
    for heels in (False, True):
        window.controller.clear_points()
        spin_until(lambda: window.controller.shown is None)
        on, off = run(window, points, heels)
        results["heels" if heels else "pace"] = (1000 * statistics.median(on), 1000 * statistics.median(off))
    window.close()
    return {"model": name, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "vit_b"])
    parser.add_argument("--clicks", type=int, default=20, help="clicks with maps on (and as many off) per setting")
    args = parser.parse_args()
    print(f"click → painted mask, medians of {args.clicks} clicks each, maps on and off alternating")
    print("| model | annotator's pace: on | off | on / off | next click 20 ms after the mask: on | off | on / off |")
    print("|---|---|---|---|---|---|---|")
    with bench_workspace() as (_app, folder):
        for name in args.models:
            r = bench_model(name, args.clicks, folder)
            (pace_on, pace_off), (heel_on, heel_off) = r["pace"], r["heels"]
            print(f"| {name} | {pace_on:.1f} ms | {pace_off:.1f} ms | {pace_on / pace_off:.2f} | {heel_on:.1f} ms | "
                  f"{heel_off:.1f} ms | {heel_on / heel_off:.2f} |", flush=True)


if __name__ == "__main__":
    main()
