"""Cold start: launch of ``pointprompt-studio --demo`` to its first painted mask, against a bare script.

    python bench/bench_cold_start.py [--runs 5] [--device cpu] [--json]

What a new user waits for on the app's embedded default (the shipped tiny SAM, the demo
dataset). Each run is a fresh process with fresh, empty POINTPROMPT_CONFIG_DIR (no remembered
settings), POINTPROMPT_CACHE_DIR (no embedding cache) and output folder (a new session). The
parent takes time.monotonic() just before subprocess launches the child; the child reports its
own time.monotonic() marks (CLOCK_MONOTONIC is system-wide on Linux) as JSON on stdout, so
every mark is "ms since launch". The operating system's file cache is warm after the first
run: what is cold is the app, not the disk. DEVICE is --device, default cpu, the goal's (``--demo``
alone means auto: the CPU on a machine without a GPU).

The app child (``--child app``) records:

* python: launch → the child's first line of Python (exec, interpreter and site start-up,
  compiling this script: ~3 ms); stdlib: this driver's own imports (torch imports them too);
* the imports, one by one, in the app's order: torch, segment_anything (it pulls in
  torchvision; main() imports them before Qt, because PySide6 replaces ``builtins.__import__``
  with a slower one), PySide6 (QtCore, QtGui, QtWidgets), then the project's modules
  (desktop.app, desktop.main_window and the core and third-party modules they import:
  pyqtgraph, OpenCV);
* then the real ``desktop.app.main(["--demo", "--device", DEVICE, "--output", TMP])``, unchanged:
  arguments, settings, the study, the session, the main window and its worker thread,
  ``window.show()``, ``app.exec()``. It reuses the QApplication the child made first, whose
  event filter (~2 ms in all) watches for the window until it shows. Marks:
  window built (its Show event); window shown (the canvas, the first image on it, has painted
  once); model loaded (the controller's ``model_changed``: the label reads "Model: …"); click
  placed (``controller.add_point``, the call a mouse click makes, at the most interior point of
  the first image's ground truth, on the event-loop turn after ``model_changed``, as
  desktop/scripted_demo.py does); first image embedded (the worker's ``embedded``, taken in the
  worker thread); first mask painted (``controller.mask_ready``, after the window's own slot
  has set the mask and painted it synchronously; checked: the canvas's viewport had a paint
  event while holding that very mask). Then the window closes and the app quits.

The bare child (``--child bare``) does the minimum for a first mask without any UI: python,
``import torch``, segment_anything, the project's core modules, ``SamEngine.from_checkpoint(None,
device=DEVICE, cache_dir=False)``, ``read_category`` of the demo dataset's first category,
``embed``, one ``decode`` of the same click. App and bare runs alternate, so a drift in the
machine's speed hits both alike; both inherit the app's OpenMP spin count (desktop/__init__.py).
The mask the app paints must equal the bare decode's (same model, image and click): checked.
Reported: per stage, the median ms since launch [range] and the median of its own duration;
app vs bare launch → first mask, their ratio, and the goal: first mask within 5 s of launch.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the child's first line of Python (see the docstring)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

STDLIB_IMPORTED = time.monotonic()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_S = 5.0
CHILD_TIMEOUT_S = 300
MARKS_PREFIX = "COLD_START_MARKS "

# (mark, the mark that its stage's own duration is counted from, label)
APP_STAGES = [
    ("python", "launch", "interpreter start (launch → first line)"),
    ("stdlib", "python", "stdlib imports (the driver's)"),
    ("torch", "stdlib", "import torch"),
    ("segment_anything", "torch", "import segment_anything (+torchvision)"),
    ("PySide6", "segment_anything", "import PySide6 (QtCore/QtGui/QtWidgets)"),
    ("project", "PySide6", "import desktop.app, desktop.main_window"),
    ("qapplication", "project", "QApplication()"),
    ("window_built", "qapplication", "main(): study, session, window built"),
    ("window_shown", "window_built", "window shown (first image painted)"),
    ("model_loaded", "window_built", "model loaded (from the window's request)"),
    ("click", "model_loaded", "first click placed"),
    ("embedded", "model_loaded", "first image embedded (worker)"),
    ("mask_painted", "click", "first mask painted (from the click)"),
]
BARE_STAGES = [
    ("python", "launch", "interpreter start (launch → first line)"),
    ("stdlib", "python", "stdlib imports (the driver's)"),
    ("torch", "stdlib", "import torch"),
    ("segment_anything", "torch", "import segment_anything (+torchvision)"),
    ("project", "segment_anything", "import core (sam_engine, image_datasets…)"),
    ("model_loaded", "project", "SamEngine.from_checkpoint (tiny SAM)"),
    ("image_read", "model_loaded", "read_category (demo image)"),
    ("embedded", "image_read", "embed"),
    ("mask", "embedded", "decode one click: first mask"),
]
FIRST_MASK = {"app": "mask_painted", "bare": "mask"}


def mask_digest(mask) -> str:
    """A short hash of an (H, W) bool mask, to check that app and bare painted the same one."""
    import hashlib

    import numpy as np

    return hashlib.sha1(np.packbits(np.asarray(mask, dtype=bool)).tobytes() + str(mask.shape).encode()).hexdigest()[:12]


def report_marks(marks: dict, info: dict) -> None:
    print(MARKS_PREFIX + json.dumps({"marks": marks, "info": info}), flush=True)


def app_child(output: Path, device: str) -> None:
    """The app's cold start, timed (see the module docstring); prints the marks."""
    marks = {"python": STARTED, "stdlib": STDLIB_IMPORTED}
    import desktop  # noqa: F401  first, as the app's entry point: GOMP_SPINCOUNT before torch loads OpenMP
    import torch  # noqa: F401
    marks["torch"] = time.monotonic()
    import segment_anything  # noqa: F401
    marks["segment_anything"] = time.monotonic()
    from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401
    marks["PySide6"] = time.monotonic()
    import desktop.app
    import desktop.main_window
    marks["project"] = time.monotonic()

    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from core.prompting.click_simulation import most_interior_point

    app = QApplication(sys.argv[:1])  # what main() does; made here so that the probe sees the window come
    marks["qapplication"] = time.monotonic()
    info = {}

    class Probe(QObject):
        """Finds the main window at its Show event, then follows its first paint and signals."""

        def __init__(self) -> None:
            super().__init__()
            self.window = self.painted_mask = None

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
            if self.window is None:
                if event.type() == QEvent.Type.Show and isinstance(watched, desktop.main_window.MainWindow):
                    marks["window_built"] = time.monotonic()
                    app.removeEventFilter(self)
                    self.attach(watched)
                return False
            if event.type() == QEvent.Type.Paint and watched is self.window.canvas.viewport():
                if "window_shown" not in marks:
                    self.window.canvas.viewportEvent(event)  # paint now, as Qt would, to time its end
                    marks["window_shown"] = time.monotonic()
                    return True
                self.painted_mask = self.window.canvas.mask  # the mask on the canvas as it paints
            return False

        def attach(self, window) -> None:
            """Connected before app.exec() runs: the worker's queued answers cannot have come yet."""
            self.window = window
            window.canvas.viewport().installEventFilter(self)
            controller = window.controller
            controller.model_changed.connect(self.model_loaded)
            controller.mask_ready.connect(self.mask_ready)  # after the window's slot, which paints the mask
            window.worker.embedded.connect(self.embedded, Qt.ConnectionType.DirectConnection)

        def model_loaded(self, description: str) -> None:
            if "model_loaded" not in marks:
                marks["model_loaded"] = time.monotonic()
                info["model"] = description
                QTimer.singleShot(0, self.click)

        def click(self) -> None:
            controller = self.window.controller
            x, y = most_interior_point(controller.truth)
            controller.add_point(x, y, 1)
            marks["click"] = time.monotonic()
            info.update(image=controller.current.image_id, click=[x, y])

        def embedded(self, image_id: str, _seconds: float) -> None:  # in the worker thread
            marks.setdefault("embedded", time.monotonic())

        def mask_ready(self, mask, _overlay) -> None:
            if "mask_painted" in marks or "click" not in marks:
                return
            if self.painted_mask is not mask:  # the window's slot, which runs first, paints synchronously
                info["error"] = "mask_ready came but the canvas has not painted that mask"
            marks["mask_painted"] = time.monotonic()
            self.window.canvas.viewport().removeEventFilter(self)
            info.update(mask=mask_digest(mask), mask_pixels=int(mask.sum()))
            QTimer.singleShot(0, self.window.close)  # the last window: the app quits

    probe = Probe()
    app.installEventFilter(probe)
    QTimer.singleShot(1000 * CHILD_TIMEOUT_S, lambda: app.exit(3))
    code = desktop.app.main(["--demo", "--device", device, "--output", str(output)])
    info["exit_code"] = code
    report_marks(marks, info)


def bare_child(device: str) -> None:
    """The minimum for a first mask, no UI (see the module docstring); prints the marks."""
    marks = {"python": STARTED, "stdlib": STDLIB_IMPORTED}
    import torch  # noqa: F401
    marks["torch"] = time.monotonic()
    import segment_anything  # noqa: F401
    marks["segment_anything"] = time.monotonic()
    import numpy as np

    from core.io.image_datasets import list_categories, read_category
    from core.models.sam_engine import SamEngine
    from core.paths import DEMO_DATASET
    from core.prompting.click_simulation import most_interior_point
    marks["project"] = time.monotonic()
    engine = SamEngine.from_checkpoint(None, device=device, cache_dir=False)
    marks["model_loaded"] = time.monotonic()
    first = read_category(DEMO_DATASET, list_categories(DEMO_DATASET)[0])[0]
    marks["image_read"] = time.monotonic()
    embedding = engine.embed(first.image)
    marks["embedded"] = time.monotonic()
    x, y = most_interior_point(first.truth)
    decoded = engine.decode(embedding, np.array([[x, y]]), np.array([1]))
    marks["mask"] = time.monotonic()
    report_marks(marks, {"image": first.name, "click": [x, y], "mask": mask_digest(decoded.masks[0]),
                         "mask_pixels": int(decoded.masks[0].sum()), "model": engine.description})


def launch(kind: str, device: str) -> dict:
    """One cold run of the app or the bare script in fresh folders: marks in ms since launch."""
    with tempfile.TemporaryDirectory(prefix="cold_start_") as tmp:
        env = dict(os.environ, POINTPROMPT_CONFIG_DIR=str(Path(tmp) / "config"),
                   POINTPROMPT_CACHE_DIR=str(Path(tmp) / "cache"))
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--device", device,
                   "--output", str(Path(tmp) / "output")]
        launched = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S + 30)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKS_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {kind} child failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    reported = json.loads(lines[-1].removeprefix(MARKS_PREFIX))
    info = reported["info"]
    if info.get("error") or info.get("exit_code", 0) != 0:
        raise RuntimeError(f"the {kind} child: {info}\n{done.stderr}")
    marks = {name: 1000 * (t - launched) for name, t in reported["marks"].items()}
    marks["launch"] = 0.0
    return {"marks": marks, "info": info}


def stage_table(runs: list[dict], stages: list[tuple[str, str, str]]) -> list[dict]:
    """Per stage: median and range of its mark (ms since launch), median of its own duration."""
    rows = []
    for mark, since, label in stages:
        at = [r["marks"][mark] for r in runs]
        own = [r["marks"][mark] - r["marks"][since] for r in runs]
        rows.append({"stage": mark, "label": label, "since": since, "median_ms": statistics.median(at),
                     "min_ms": min(at), "max_ms": max(at), "duration_ms": statistics.median(own)})
    return sorted(rows, key=lambda row: row["median_ms"])


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"  {'stage':<46} {'since launch (ms)':>17} {'range':>15} {'own (ms)':>9}  from")
    for row in rows:
        span = f"{row['min_ms']:.0f}–{row['max_ms']:.0f}"
        print(f"  {row['label']:<46} {row['median_ms']:>17.0f} {span:>15} {row['duration_ms']:>9.0f}  {row['since']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold runs of each (app and bare, alternating)")
    parser.add_argument("--device", default="cpu", help="passed to the app (--device) and to the bare SamEngine")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the tables")
    parser.add_argument("--child", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "app":
        return app_child(args.output, args.device)
    if args.child == "bare":
        return bare_child(args.device)

    import desktop  # noqa: F401  sets GOMP_SPINCOUNT here, so that both children get the app's OpenMP setting

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results = {"app": [], "bare": []}
    for run in range(args.runs):
        for kind in ("app", "bare"):
            results[kind].append(launch(kind, args.device))
            first_mask = results[kind][-1]["marks"][FIRST_MASK[kind]]
            print(f"run {run + 1}/{args.runs} {kind}: first mask {first_mask:.0f} ms after launch", file=sys.stderr,
                  flush=True)
    app_info, bare_info = results["app"][0]["info"], results["bare"][0]["info"]
    same = all(r["info"]["mask"] == bare_info["mask"] and r["info"]["image"] == bare_info["image"]
               for r in results["app"] + results["bare"])
    app_ms = [r["marks"]["mask_painted"] for r in results["app"]]
    bare_ms = [r["marks"]["mask"] for r in results["bare"]]
    app_median, bare_median = statistics.median(app_ms), statistics.median(bare_ms)
    summary = {
        "runs": args.runs, "device": args.device, "model": app_info["model"], "image": app_info["image"],
        "click": app_info["click"], "same_mask_as_bare": same,
        "app_first_mask_ms": app_median, "app_range_ms": [min(app_ms), max(app_ms)],
        "bare_first_mask_ms": bare_median, "bare_range_ms": [min(bare_ms), max(bare_ms)],
        "ratio": app_median / bare_median,
        "paired_ratio": statistics.median([a / b for a, b in zip(app_ms, bare_ms)]),
        "goal_s": GOAL_S, "goal_met": app_median <= 1000 * GOAL_S, "goal_met_every_run": max(app_ms) <= 1000 * GOAL_S,
        "app_stages": stage_table(results["app"], APP_STAGES),
        "bare_stages": stage_table(results["bare"], BARE_STAGES),
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{args.runs} cold runs each, alternating; {summary['model']}; first image {summary['image']}, "
          f"click at {tuple(summary['click'])}; QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}")
    print_table("app: pointprompt-studio --demo (medians; range of the time since launch)", summary["app_stages"])
    print_table("bare: torch + segment_anything + SamEngine, no UI", summary["bare_stages"])
    print(f"\nlaunch → first mask: app {app_median:.0f} ms [{min(app_ms):.0f}–{max(app_ms):.0f}] vs bare "
          f"{bare_median:.0f} ms [{min(bare_ms):.0f}–{max(bare_ms):.0f}]: ratio {summary['ratio']:.2f} "
          f"(per run pair {summary['paired_ratio']:.2f}); same mask as bare: {'yes' if same else 'NO'}")
    print(f"goal: first mask within {GOAL_S:.0f} s of launch on the {args.device}: "
          f"{'met' if summary['goal_met'] else 'NOT met'} (median {app_median / 1000:.2f} s, "
          f"worst run {max(app_ms) / 1000:.2f} s)")


if __name__ == "__main__":
    main()
