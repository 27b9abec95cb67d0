"""The Qt application (PySide6): windows, widgets and the model thread. ``core`` has the logic.

Importing this package sets two process-wide defaults for the app's two busy threads (the UI
and the inference worker):

* ``GOMP_SPINCOUNT=10000``, before PyTorch loads its OpenMP runtime (libgomp on Linux), which
  reads it once. After each parallel region libgomp keeps its idle threads spinning for
  GOMP_SPINCOUNT iterations, 300,000 by default: about 3 ms on the 2-core test machine. After a
  decode that spin holds a core just when the UI thread wakes to paint the mask, so one click
  in three waited ~3 ms longer (tiny SAM: the 75th percentile of the answer's hand-over to the
  UI thread 3.0 ms, 0.29 ms with 10,000 spins). 10,000 spins (~0.1 ms) still bridge the gaps
  between a decode's operators: the bare decode is unchanged (16.1 vs 16.8 ms median, noise
  ±2 ms; 0 spins would cost +5 ms). A value the user set is kept; set before ``import torch``,
  or it does nothing (``python -m desktop.app`` and the ``pointprompt-studio`` script import
  this package first).
* Python's thread switch interval, 5 ms by default, to GIL_SWITCH_INTERVAL_S. A thread that
  releases the GIL around each torch or numpy call and takes it straight back can keep a
  waiting thread out for a whole interval: the UI thread, woken to paint the mask while the
  worker upscales and scores the other candidates, sometimes waited milliseconds (per-click
  ratio of the tiny SAM 0.035 lower in the median of eight alternating runs of
  bench/bench_annotation_app.py, better in six; vit_b 1.04 vs 1.06).
"""

import os
import sys

GIL_SWITCH_INTERVAL_S = 0.0005

os.environ.setdefault("GOMP_SPINCOUNT", "10000")
sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
