"""The model thread: loads SAM, embeds images and decodes prompts off the UI thread.

The UI never calls the model. It posts requests; the worker answers with signals (queued
across threads). Decoding is newest-request-wins: a new request replaces one that has not
started yet, so a burst of clicks costs one decode of the latest prompt set, never a queue of
stale ones, and no click is lost because the latest request always carries all points.

Each answer comes in two signals: ``mask_preview`` carries the candidate the UI will show as
soon as it is upscaled, ``decoded`` the full result (all candidates, scores) a little later,
so the window paints the mask while the worker finishes.

Background prefetch embeds the next images one per event-loop turn, so a decode request
posted meanwhile runs before the next prefetch item (it waits at most for one embedding).
``cancel_prefetch`` empties the queue; the running item finishes.

For images over a megapixel each answer carries its candidate masks already encoded as PNG
(on a small pool of threads, alongside the IoU/Dice scoring: OpenCV releases the GIL), so that
recording the timestep on the UI thread only writes files: three masks of a 3000×2000 image
take ~90 ms to encode, which would freeze the window after every click. Small images' masks
are encoded by the session on the UI thread after the paint (~0.4 ms each), which costs less
than handing them to threads (that added 2–3 ms to the tiny SAM's click-to-mask time).

Gradient maps (desktop.map_jobs) run here too, after the decode whose mask they explain: the
controller asks for them once that mask is shown. Priorities: a waiting decode first, then a
map drawing, then maps, then prefetch. Maps are newest-request-wins like decodes, and a maps
computation is cancelled (``maps_cancelled``) as soon as a newer decode or maps request arrives:
``compute_sam_maps`` asks between its stages, a few ms apart with the tiny SAM (its
prompt-intervention stage, one batched decoder call, is the longest: ~50 ms on 2 cores).
A maps request replaced before it started is dropped without a word.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, Signal, Slot

from core.analysis.replay import rerun_scores
from core.gradients.sam_maps import MapsCancelled
from core.models.checkpoint import CheckpointError
from core.models.device import DeviceError
from core.models.embedding_cache import ImageEmbedding
from core.io.masks import encode_mask_png
from core.models.sam_engine import Decoded, PromptError, SamEngine
from core.prompting.metrics import iou_and_dice
from core.prompting.prompt_set import PromptSet
from core.prompting.study import StudyImage, StudyImageError
from desktop.map_jobs import MapDrawRequest, MapsRequest, compute_maps, draw_maps
from desktop.mask_overlay import OverlayStyle, mask_overlay


WORKER_ENCODES_ABOVE_PIXELS = 1_000_000  # see the module docstring
WAKE_DECODE = QEvent.Type(QEvent.registerEventType())  # posted to the worker by request_decode
WAKE_MAPS = QEvent.Type(QEvent.registerEventType())  # posted by request_maps and request_map_drawing


def default_candidate(predicted_iou, rule: str) -> int:
    """The candidate chosen without the annotator: "first" (PointPrompt's rule: the first
    multimask output) or "best" (the highest of SAM's predicted IoUs, a (M,) array)."""
    return 0 if rule == "first" else int(np.argmax(predicted_iou))


@dataclass
class DecodeRequest:
    """All a decode needs: the image (H, W, 3) uint8, its prompt set, (H, W) bool truth or None,
    the rule that picks the candidate shown (:func:`default_candidate`) and, if the worker
    should draw that candidate's overlay too, the canvas's overlay style."""

    image_id: str
    image: np.ndarray
    prompts: PromptSet
    truth: np.ndarray | None = None
    serial: int = 0
    shown_rule: str = "first"
    overlay_style: OverlayStyle | None = None


@dataclass
class DecodeResult:
    """SAM's answer to a :class:`DecodeRequest`, with each candidate's IoU and Dice (None without truth).

    seconds: embedding lookup + decode + scoring, measured in the worker; model: the weights'
    identity key; device: where it ran; mask_pngs: for images over a megapixel, each candidate
    as PNG bytes (core.io.masks.encode_mask_png), ready for the session to write; else empty.
    """

    request: DecodeRequest
    decoded: Decoded
    seconds: float
    ious: list = field(default_factory=list)
    dices: list = field(default_factory=list)
    model: str = ""
    device: str = ""
    mask_pngs: list = field(default_factory=list)


class InferenceWorker(QObject):
    """Lives in its own QThread; see the module docstring."""

    model_loaded = Signal(str)  # engine description
    model_failed = Signal(str)  # a message naming the file and the fix
    embedded = Signal(str, float)  # image_id, seconds
    prefetch_progress = Signal(int, int)  # done, total of the current prefetch batch
    prefetch_failed = Signal(str, str)  # image_id, message
    mask_preview = Signal(int, object, object)  # request serial, (H, W) bool candidate to show, its MaskOverlay or None
    decoded = Signal(object)  # DecodeResult
    replayed = Signal(int, object)  # replay serial, (T,) float64 scores of a re-run published sequence
    failed = Signal(str)
    decode_failed = Signal(int, str)  # the request's serial, why
    maps_ready = Signal(object)  # desktop.map_jobs.MapsResult
    maps_cancelled = Signal(int)  # the maps request's serial: a newer decode or maps request stopped it
    maps_failed = Signal(int, str)  # the maps request's serial, why
    map_drawn = Signal(object)  # desktop.map_jobs.MapDrawing
    _wake_prefetch = Signal()
    _embed = Signal(str, object)
    _load = Signal(object, object, str)
    _replay = Signal(int, object, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.engine: SamEngine | None = None
        self._lock = threading.Lock()
        self._pending: DecodeRequest | None = None
        self._serial = 0
        # (image_id, the image array itself, its embedding): the array is kept so that a new
        # study whose ids repeat (another "Cat/0") cannot reuse the old image's embedding
        self._last_embedding: tuple[str, np.ndarray, ImageEmbedding] | None = None
        self._prefetch: deque[StudyImage] = deque()
        self._prefetch_total = 0
        self._prefetch_done = 0
        # the prefetch wakes itself from this thread: queued, never a direct (recursive) call
        self._wake_prefetch.connect(self._run_prefetch_item, Qt.ConnectionType.QueuedConnection)
        self._embed.connect(self._run_embed)
        self._load.connect(self._run_load)
        self._replay.connect(self._run_replay)
        self._replay_serial = 0
        self._pending_maps: MapsRequest | None = None
        self._maps_serial = 0
        self._pending_drawing: MapDrawRequest | None = None
        self._drawing_serial = 0
        self._encoders = ThreadPoolExecutor(3, thread_name_prefix="mask-png")

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
        # a posted event, not a queued signal, wakes the worker: PySide's queued emit (a meta-call
        # built from the signal's signature) took 0.13 ms of the click's path, cold; this 0.04
        QCoreApplication.postEvent(self, QEvent(WAKE_DECODE))
        return request.serial

    def request_maps(self, request: MapsRequest) -> int:
        """Queue a maps computation, replacing any not yet started and cancelling the running
        one; returns its serial. A decode requested later cancels it too."""
        with self._lock:
            self._maps_serial += 1
            request.serial, request.decode_serial = self._maps_serial, self._serial
            self._pending_maps = request
        QCoreApplication.postEvent(self, QEvent(WAKE_MAPS))
        return request.serial

    def request_map_drawing(self, request: MapDrawRequest) -> int:
        """Queue an overlay drawing (newest wins); returns its serial, which ``map_drawn`` carries."""
        with self._lock:
            self._drawing_serial += 1
            request.serial = self._drawing_serial
            self._pending_drawing = request
        QCoreApplication.postEvent(self, QEvent(WAKE_MAPS))
        return request.serial

    def cancel_maps(self) -> None:
        """Drop the waiting maps request and cancel the running one (it reports ``maps_cancelled``)."""
        with self._lock:
            self._maps_serial += 1
            self._pending_maps = None
            self._pending_drawing = None

    def prefetch(self, images: list[StudyImage]) -> None:
        """Embed these images in the background, in order, replacing any earlier prefetch list."""
        with self._lock:
            self._prefetch = deque(images)
            self._prefetch_total, self._prefetch_done = len(images), 0
        self._wake_prefetch.emit()

    def request_replay(self, image: np.ndarray, truth: np.ndarray, results) -> int:
        """Re-run a published sequence (core.io.pointprompt_results.ImageResults) through the loaded
        model; returns the serial that ``replayed`` will carry. A newer request cancels older ones."""
        with self._lock:
            self._replay_serial += 1
            serial = self._replay_serial
        self._replay.emit(serial, image, truth, results)
        return serial

    def cancel_replay(self) -> None:
        with self._lock:
            self._replay_serial += 1

    def cancel_prefetch(self) -> None:
        with self._lock:
            self._prefetch.clear()
            self._prefetch_total = self._prefetch_done

    def shutdown(self) -> None:
        """Stop the PNG encoder threads (after the worker's thread has stopped)."""
        self._encoders.shutdown(wait=True)

    # --- run in the worker thread --------------------------------------------------------
    def customEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt name)
        if event.type() == WAKE_DECODE:
            self._run_decode()
        elif event.type() == WAKE_MAPS:
            self._run_map_work()

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
        last = self._last_embedding
        if last is None or last[0] != image_id or last[1] is not image:
            self._last_embedding = (image_id, image, self.engine.embed(image))
        return self._last_embedding[2]

    @Slot()
    def _run_prefetch_item(self) -> None:
        if self._pending is not None:
            self._run_decode()  # a click waiting: serve it first
        if self._pending_maps is not None or self._pending_drawing is not None:
            self._run_map_work()  # then the maps of the mask on show
        with self._lock:
            item = self._prefetch.popleft() if self._prefetch and self.engine is not None else None
        if item is None:
            return
        start = time.perf_counter()
        try:
            image = item.load().image
            if self.engine.cached_embedding(image) is None:
                self.engine.embed(image)
            self.embedded.emit(item.image_id, time.perf_counter() - start)
        except StudyImageError as error:
            self.prefetch_failed.emit(item.image_id, str(error))
        with self._lock:
            self._prefetch_done += 1
            done, total, more = self._prefetch_done, self._prefetch_total, bool(self._prefetch)
        self.prefetch_progress.emit(done, total)
        if more:
            self._wake_prefetch.emit()

    @Slot(int, object, object, object)
    def _run_replay(self, serial, image, truth, results) -> None:
        if self.engine is None:
            self.failed.emit("No model is loaded yet: the replay cannot be re-run.")
            return
        scores = rerun_scores(self.engine, image, truth, results, cancelled=lambda: self._replay_serial != serial)
        if self._replay_serial == serial:
            self.replayed.emit(serial, scores)

    @Slot()
    def _run_decode(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
        if request is None or self.engine is None:
            return  # already served by an earlier wake-up, or no model yet
        start = time.perf_counter()
        try:
            embedding = self._embedding(request.image_id, request.image)
            decoded = self._decode_shown_first(request, embedding)
            large = decoded.masks[0].size > WORKER_ENCODES_ABOVE_PIXELS
            encoding = [self._encoders.submit(encode_mask_png, mask) for mask in decoded.masks] if large else []
            scores = [(None, None) if request.truth is None else iou_and_dice(mask, request.truth)
                      for mask in decoded.masks]
            pngs = [job.result() for job in encoding]
        except PromptError as error:
            self.decode_failed.emit(request.serial, str(error))
            return
        except (RuntimeError, ValueError, MemoryError) as error:  # e.g. out of GPU memory: say so, keep running
            self.decode_failed.emit(request.serial, f"SAM failed on {request.image_id}: {error}")
            return
        ious, dices = [s[0] for s in scores], [s[1] for s in scores]
        self.decoded.emit(DecodeResult(request, decoded, time.perf_counter() - start, ious, dices,
                                       self.engine.identity.key, str(self.engine.device), pngs))

    def _run_map_work(self) -> None:
        """Serve a waiting decode, then a waiting drawing, then waiting maps (each at most once)."""
        if self._pending is not None:
            self._run_decode()
        with self._lock:
            drawing, self._pending_drawing = self._pending_drawing, None
        if drawing is not None:
            try:
                self.map_drawn.emit(draw_maps(drawing))
            except (ValueError, MemoryError) as error:
                self.failed.emit(f"Cannot draw the map of {drawing.key[0]}: {error}")
        if self._pending is not None:
            self._run_decode()
        with self._lock:
            request, self._pending_maps = self._pending_maps, None
        if request is not None:
            self._run_maps(request)

    def _run_maps(self, request: MapsRequest) -> None:
        def cancelled() -> bool:  # read without the lock: ints, replaced whole
            return self._serial != request.decode_serial or self._maps_serial != request.serial

        if self.engine is None or cancelled():
            self.maps_cancelled.emit(request.serial)
            return
        try:
            embedding = self._embedding(request.image_id, request.image)
            result = compute_maps(self.engine, embedding, request, cancelled)
        except MapsCancelled:
            self.maps_cancelled.emit(request.serial)
            return
        except PromptError as error:
            self.maps_failed.emit(request.serial, str(error))
            return
        except (RuntimeError, ValueError, MemoryError) as error:  # e.g. out of GPU memory: say so, keep running
            self.maps_failed.emit(request.serial, f"The maps of {request.image_id} failed: {error}")
            return
        self.maps_ready.emit(result)

    def _decode_shown_first(self, request: DecodeRequest, embedding: ImageEmbedding) -> Decoded:
        """``SamEngine.decode``, bitwise, in an order that shows the answer sooner: the candidate
        the UI will show is upscaled and sent (``mask_preview``, with its overlay drawn if the
        request gives a style) before the others are upscaled and all are scored, so the UI
        paints it while the worker finishes (tiny SAM: 0.4 of
        1.1 ms of upscaling, and the scoring, off the click-to-mask path)."""
        logits, predicted = self.engine.decode_logits(embedding, request.prompts.coords, request.prompts.labels)
        shown = default_candidate(predicted, request.shown_rule)
        first = self.engine.upscale_masks(embedding, logits[shown:shown + 1])[0]
        overlay = None if request.overlay_style is None else mask_overlay(first, request.overlay_style)
        self.mask_preview.emit(request.serial, first, overlay)
        masks = np.empty((len(predicted), *first.shape), dtype=bool)
        masks[shown] = first
        others = [k for k in range(len(predicted)) if k != shown]
        if others:
            masks[others] = self.engine.upscale_masks(embedding, logits[others])
        return Decoded(masks, logits.cpu().numpy(), predicted)


def start_worker() -> tuple[InferenceWorker, QThread]:
    """Create the worker and its running thread; call ``stop_worker`` before quitting."""
    thread = QThread()
    thread.setObjectName("inference")
    worker = InferenceWorker()
    worker.moveToThread(thread)
    thread.start()
    return worker, thread


def stop_worker(worker: InferenceWorker, thread: QThread) -> None:
    worker.cancel_prefetch()
    thread.quit()
    thread.wait()
    worker.shutdown()
