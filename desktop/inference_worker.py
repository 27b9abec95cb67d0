"""The model thread: loads SAM, embeds images and decodes prompts off the UI thread.

The UI never calls the model. It posts requests; the worker answers with signals (queued
across threads). Decoding is newest-request-wins: a new request replaces one that has not
started yet, so a burst of clicks costs one decode of the latest prompt set, never a queue of
stale ones, and no click is lost because the latest request always carries all points.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.models.checkpoint import CheckpointError
from core.models.device import DeviceError
from core.models.embedding_cache import ImageEmbedding
from core.models.sam_engine import Decoded, PromptError, SamEngine


@dataclass
class DecodeRequest:
    """All a decode needs: the image (H, W, 3) uint8, points (N, 2) (x, y), labels (N,)."""

    image_id: str
    image: np.ndarray
    points: np.ndarray
    labels: np.ndarray
    serial: int = 0


@dataclass
class DecodeResult:
    """The answer to a :class:`DecodeRequest`, with the seconds the decode took."""

    request: DecodeRequest
    decoded: Decoded
    seconds: float


class InferenceWorker(QObject):
    """Lives in its own QThread; see the module docstring."""

    model_loaded = Signal(str)  # engine description
    model_failed = Signal(str)  # a message naming the file and the fix
    embedded = Signal(str, float)  # image_id, seconds
    decoded = Signal(object)  # DecodeResult
    failed = Signal(str)
    _wake_decode = Signal()
    _embed = Signal(str, object)
    _load = Signal(object, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.engine: SamEngine | None = None
        self._lock = threading.Lock()
        self._pending: DecodeRequest | None = None
        self._serial = 0
        self._last_embedding: tuple[str, ImageEmbedding] | None = None
        self._wake_decode.connect(self._run_decode)
        self._embed.connect(self._run_embed)
        self._load.connect(self._run_load)

    # --- called from the UI thread -------------------------------------------------------
    def load_model(self, checkpoint: Path | None, variant: str | None, device: str = "auto") -> None:
        self._load.emit(checkpoint, variant, device)

    def request_embedding(self, image_id: str, image: np.ndarray) -> None:
        self._embed.emit(image_id, image)

    def request_decode(self, request: DecodeRequest) -> int:
        """Queue ``request``, replacing any not yet started; returns its serial number."""
        with self._lock:
            self._serial += 1
            request.serial = self._serial
            self._pending = request
        self._wake_decode.emit()
        return request.serial

    # --- run in the worker thread --------------------------------------------------------
    @Slot(object, object, str)
    def _run_load(self, checkpoint, variant, device) -> None:
        try:
            self.engine = SamEngine.from_checkpoint(checkpoint, variant=variant, device=device)
        except (CheckpointError, DeviceError) as error:
            self.model_failed.emit(str(error))
            return
        self._last_embedding = None
        self.model_loaded.emit(self.engine.description)

    @Slot(str, object)
    def _run_embed(self, image_id: str, image: np.ndarray) -> None:
        if self.engine is None:
            return
        start = time.perf_counter()
        self._embedding(image_id, image)
        self.embedded.emit(image_id, time.perf_counter() - start)

    def _embedding(self, image_id: str, image: np.ndarray) -> ImageEmbedding:
        """The embedding of the image, remembered by id so a click does not re-hash the image."""
        if self._last_embedding is None or self._last_embedding[0] != image_id:
            self._last_embedding = (image_id, self.engine.embed(image))
        return self._last_embedding[1]

    @Slot()
    def _run_decode(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
        if request is None or self.engine is None:
            return  # already served by an earlier wake-up, or no model yet
        start = time.perf_counter()
        try:
            embedding = self._embedding(request.image_id, request.image)
            decoded = self.engine.decode(embedding, request.points, request.labels)
        except PromptError as error:
            self.failed.emit(str(error))
            return
        self.decoded.emit(DecodeResult(request, decoded, time.perf_counter() - start))


def start_worker() -> tuple[InferenceWorker, QThread]:
    """Create the worker and its running thread; call ``stop_worker`` before quitting."""
    thread = QThread()
    thread.setObjectName("inference")
    worker = InferenceWorker()
    worker.moveToThread(thread)
    thread.start()
    return worker, thread


def stop_worker(thread: QThread) -> None:
    thread.quit()
    thread.wait()
