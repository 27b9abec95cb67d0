"""`pointprompt-studio` as a user starts it: a real process, the default model and dataset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from PIL import Image

from core.prompting.session import AnnotationSession


def test_app_starts_on_the_embedded_default_clicks_and_saves_a_screenshot(tmp_path):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "POINTPROMPT_CACHE_DIR": str(tmp_path / "cache"),
           "POINTPROMPT_CONFIG_DIR": str(tmp_path / "config"), "PYTHONFAULTHANDLER": "1"}
    app = subprocess.Popen([sys.executable, "-m", "desktop.app", "--demo", "--output", str(tmp_path / "out"),
                            "--demo-clicks", "2", "--screenshot", str(shot)],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = app.communicate(timeout=300)
    except subprocess.TimeoutExpired:  # a hang: SIGABRT makes faulthandler print every thread's stack
        app.send_signal(signal.SIGABRT if os.name == "posix" else signal.SIGTERM)
        _, stderr = app.communicate()
        pytest.fail(f"the app did not finish within 300 s; its threads:\n{stderr}")
    assert app.returncode == 0, stderr
    with Image.open(shot) as image:
        assert image.width >= 800 and image.height >= 500
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npz"))) >= 1
    session = AnnotationSession.load(tmp_path / "out" / "sessions" / "st1")
    record = session.records["bar/0"]
    assert len(record.timesteps) == 2 and record.timesteps[0].model.startswith("tiny-")
    assert record.seconds > 0
