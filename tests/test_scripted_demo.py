"""The scripted demo (``--demo-clicks`` with ``--screenshot``) drives the real window to a screenshot."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from desktop.scripted_demo import run_scripted_demo
from tests.test_main_window import open_window


def test_a_demo_built_after_the_model_loaded_still_clicks_and_saves(qtbot, tmp_path, monkeypatch):
    """The model may load before the demo connects to ``model_loaded`` (a busy machine); the
    demo must start anyway instead of waiting for a signal that already went."""
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: None))
    window = open_window(qtbot, tmp_path)
    assert window.worker.engine is not None
    shot = tmp_path / "shot.png"
    run_scripted_demo(window, 2, shot)
    qtbot.waitUntil(shot.exists, timeout=60_000)
    assert len(window.controller.record.timesteps) == 2
