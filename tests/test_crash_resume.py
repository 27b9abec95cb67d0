"""kill -9 in the middle of a session, restart: the window resumes exactly where it was."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.io.event_log import read_events
from core.paths import DEMO_DATASET
from core.prompting.session import AnnotationSession
from core.prompting.study import study_from_image_datasets
from desktop.main_window import MainWindow

SCRIPT = Path(__file__).with_name("crash_midsession.py")


def test_resume_after_sigkill(qtbot, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "ready to die" in done.stdout
    logged = read_events(tmp_path / "session" / "events.jsonl")
    assert logged[-1]["event"] in ("edit", "timestep")

    session = AnnotationSession.open(tmp_path / "session", "st1")
    window = MainWindow(study_from_image_datasets(DEMO_DATASET, ["ellipse"]), session, device="cpu", output=tmp_path)
    qtbot.addWidget(window)
    window.show()
    c = window.controller
    assert c.current.image_id == "ellipse/1"  # the image open at the crash
    assert c.prompts.to_json() == [[100, 100, 1], [50, 50, 0]]  # including the last, maybe undecoded, click
    first = session.records["ellipse/0"]
    assert first.prompts.to_json() == [[160, 120, 1], [20, 20, 0]]
    assert [len(t.prompts) for t in first.timesteps] == [1, 2, 3, 2]
    # the last click's timestep is there (logged before the kill) or is decoded now, once
    qtbot.waitUntil(lambda: len(c.record.timesteps) == 2 and c.shown_timestep == 1, timeout=60_000)
    assert c.record.timesteps[1].prompts == c.prompts
    window.undo_action.trigger()  # the undo history was rebuilt from the log: the last click goes
    assert c.prompts.to_json() == [[100, 100, 1]]
    window.close()
