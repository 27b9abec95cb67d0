"""A click's edit is written at once but fsynced after SAM's answer (no thread woken mid-decode)."""

from __future__ import annotations

import os
import time

import core.io.event_log as event_log
import desktop.annotation_controller as annotation_controller
from tests.test_held_click import HeldRequests
from tests.test_main_window import click, open_window, wait_for_timesteps


def log_fsyncs(monkeypatch) -> list[float]:
    """Times of the fsyncs of any events.jsonl from now on."""
    times = []
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("events.jsonl"):
            times.append(time.monotonic())
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return times


def test_a_clicks_edit_is_fsynced_once_its_answer_is_logged(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "FSYNC_AFTER_S", 0.01)
    window = open_window(qtbot, tmp_path)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.current.image_id in controller.embedded, timeout=30_000)
    qtbot.wait(500)  # the opening's events are synced
    fsyncs = log_fsyncs(monkeypatch)
    answered = []
    controller.result_changed.connect(lambda: answered.append(time.monotonic()) if controller.shown else None)
    click(qtbot, window, 100, 100)
    wait_for_timesteps(qtbot, window, 1)
    qtbot.waitUntil(lambda: len(fsyncs) >= 1, timeout=5000)
    assert fsyncs[0] >= answered[0]  # not while SAM decoded the edit
    window.close()


def test_an_edit_that_gets_no_answer_is_fsynced_all_the_same(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "FSYNC_AFTER_S", 0.01)
    monkeypatch.setattr(annotation_controller, "EDIT_SYNC_FALLBACK_MS", 300)
    window = open_window(qtbot, tmp_path)
    controller = window.controller
    qtbot.wait(500)  # the opening's events are synced
    fsyncs = log_fsyncs(monkeypatch)
    controller.worker.request_decode = HeldRequests()  # SAM never answers
    start = time.monotonic()
    controller.add_point(100, 100, 1)
    qtbot.wait(150)
    assert fsyncs == []  # the answer could still come
    qtbot.waitUntil(lambda: len(fsyncs) == 1, timeout=5000)
    assert fsyncs[0] - start >= 0.25  # the fallback's time (a coarse Qt timer may fire 5% early)
    window.close()
