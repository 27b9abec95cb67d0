"""`pointprompt-studio` as a user starts it: a real process, the default model and dataset."""

from __future__ import annotations

import os
import subprocess
import sys

from PIL import Image

from core.prompting.session import AnnotationSession


def test_app_starts_on_the_embedded_default_clicks_and_saves_a_screenshot(tmp_path):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "POINTPROMPT_CACHE_DIR": str(tmp_path / "cache"),
           "POINTPROMPT_CONFIG_DIR": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "desktop.app", "--demo", "--output", str(tmp_path / "out"),
                           "--demo-clicks", "2", "--screenshot", str(shot)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Image.open(shot) as image:
        assert image.width >= 800 and image.height >= 500
    assert len(list((tmp_path / "cache" / "embeddings").glob("*.npz"))) >= 1
    session = AnnotationSession.load(tmp_path / "out" / "sessions" / "st1")
    record = session.records["bar/0"]
    assert len(record.timesteps) == 2 and record.timesteps[0].model.startswith("tiny-")
    assert record.seconds > 0
