"""Test set-up: headless Qt, a private embedding cache, few threads, deterministic torch."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# two threads, or what OMP_NUM_THREADS asks for (.ci/run's second pass uses one: another reduction order)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own embedding cache and settings folders, never the user's."""
    monkeypatch.setenv("POINTPROMPT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("POINTPROMPT_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread():
    """Collect each test's dead windows here, on the main thread. Left to the cyclic GC they may be
    collected from a model worker thread, and a Qt object destroyed there deadlocked (PySide6 6.11)."""
    yield
    gc.collect()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
