"""Run by tests/test_crash_resume.py in a subprocess: prompt in the real window, then die by SIGKILL.

Usage: python tests/crash_midsession.py OUTPUT_FOLDER
"""

import os
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from core.paths import DEMO_DATASET  # noqa: E402
from core.prompting.session import AnnotationSession  # noqa: E402
from core.prompting.study import study_from_image_datasets  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402


def wait_until(condition, seconds=60.0):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        QApplication.processEvents()
        time.sleep(0.005)


def main(folder: Path) -> None:
    app = QApplication(sys.argv[:1])  # noqa: F841
    images = study_from_image_datasets(DEMO_DATASET, ["ellipse"])
    window = MainWindow(images, AnnotationSession.open(folder / "session", "st1"), device="cpu", output=folder)
    window.show()
    c = window.controller
    wait_until(lambda: c.model_description)
    steps = lambda: len(c.record.timesteps)  # noqa: E731
    for x, y, label in ((160, 120, 1), (20, 20, 0), (300, 200, 0)):
        before = steps()
        c.add_point(x, y, label)
        wait_until(lambda: steps() == before + 1)
    window.undo_action.trigger()
    wait_until(lambda: steps() == 4)
    c.step(1)
    c.add_point(100, 100, 1)
    wait_until(lambda: steps() == 1)
    c.add_point(50, 50, 0)  # killed before (or while) this one is decoded
    print("ready to die", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
