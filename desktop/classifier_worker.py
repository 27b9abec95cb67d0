"""The classifier thread: loads an image classifier and explains its predictions off the UI thread.

The SAM worker (desktop.inference_worker) is busy with SAM, so the classifier has a QThread of
its own. The UI posts requests; the worker answers with signals (queued across threads):

* :meth:`ClassifierWorker.load` → ``loaded(name, class_names)`` or ``load_failed(message)``;
* :meth:`ClassifierWorker.request` → ``computed(ClassifierResult)`` or ``failed(serial, message)``.

Requests are newest-wins: each gets a serial number, a newer one replaces a request that has not
started yet, and a running computation stops at its next stage (probabilities, explanation map,
VOICE, trust scores) once a newer request or :meth:`ClassifierWorker.cancel` arrives. A result
is emitted only while its serial is still the newest, so a stale one never reaches the panel
(the panel checks the serial again on arrival).

What depends on the image alone (probabilities, VOICE, trust scores) is remembered for the last
image, so choosing another method or another contrast class Q recomputes only the map.
Results hold only NumPy arrays and Python values: no Qt object is made or destroyed here.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.models.classifier import ClassifierError

# map choices: the explanation methods of core.gradients.explain_image, and VOICE's uncertainty map
METHODS = {
    "gradcam": "Grad-CAM of the prediction P",
    "gradcam++": "Grad-CAM++ of the prediction P",
    "counterfactual": "Counterfactual CAM: what argues against P",
    "contrast": "Contrast-CAM: why P, rather than Q?",
    "contrast++": "Contrast Grad-CAM++: why P, rather than Q?",
    "voice": "VOICE: uncertainty of the explanation (variance of its contrastive maps)",
}
CONTRAST_METHODS = ("contrast", "contrast++")  # the methods that use Q
TOP_K = 5


class Superseded(Exception):
    """A newer request (or a cancel) arrived while this one was being computed."""


@dataclass
class ClassifierRequest:
    """What to compute. image: (H, W, 3) uint8 RGB, what the classifier sees (the whole image or
    a crop); method: a key of :data:`METHODS`; contrast: Q for the contrast methods (None: the
    second most likely class); box: where ``image`` lies in the image it was cut from, (x0, y0,
    x1, y1) half-open pixels, or None when it is that image; origin: the panel's name of the
    source ("image", "crop", "evaluation"); path: the file, for an evaluation image; detector: a
    core.gradients.purview.PurviewDetector (adds the ``purview`` score) or None; serial: set by
    :meth:`ClassifierWorker.request`."""

    image: np.ndarray
    method: str = "gradcam"
    contrast: int | None = None
    box: tuple[int, int, int, int] | None = None
    origin: str = "image"
    path: str = ""
    detector: object | None = None
    serial: int = 0


@dataclass
class ClassifierResult:
    """The answer to a request. probabilities: (C,) float32 softmax; top: the TOP_K most likely
    (class index, probability), most likely first; predicted: P; contrast: the Q the map used
    (contrast methods; else None); map: (H, W) float32 in [0, 1] at the request image's size,
    or None when the method cannot run on this model (``notes`` says why); voice: the
    core.gradients.voice.ImageVoice, or None; trust: score name → float (core.gradients.
    trust_scores, NaN where a score does not apply). A request is answered twice when the image
    is new: first without VOICE and trust (None: not ``complete``), then with them. thread: the
    ident of the thread that computed it; seconds: since the request started; notes: what could
    not be computed and why."""

    request: ClassifierRequest
    classifier: str
    class_names: list[str]
    probabilities: np.ndarray
    top: list[tuple[int, float]]
    predicted: int
    contrast: int | None
    map: np.ndarray | None
    voice: object | None
    trust: dict[str, float] | None
    thread: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    map_note: str = ""  # why ``map`` is None

    @property
    def complete(self) -> bool:
        return self.trust is not None


@dataclass
class _ImageFacts:
    """What depends on the image (and the detector) only, remembered for the last image: its
    probabilities at once, VOICE and the trust scores once computed."""

    key: tuple
    probabilities: np.ndarray
    voice: object | None = None
    voice_note: str = ""  # why there is no VOICE (e.g. TorchScript)
    trust: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    def notes_for(self, map_note: str) -> list[str]:
        """The notes a result shows: why there is no map, else why there is no VOICE, then the rest."""
        return [map_note or self.voice_note] * bool(map_note or self.voice_note) + self.notes


def _image_key(image: np.ndarray, generation: int, detector) -> tuple:
    digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest()
    return generation, image.shape, digest, id(detector)


class ClassifierWorker(QObject):
    """Lives in its own QThread (:func:`start_classifier_worker`); see the module docstring."""

    loaded = Signal(str, object)  # classifier name, its class names (list[str])
    load_failed = Signal(str)  # a message naming the file and the fix
    computed = Signal(object)  # ClassifierResult
    failed = Signal(int, str)  # the request's serial, why
    _load = Signal(str, object, object, str)
    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.record = None  # the loaded core.models.classifier.ClassifierRecord
        self._lock = threading.Lock()
        self._serial = 0
        self._pending: ClassifierRequest | None = None
        self._generation = 0  # counts loads: remembered facts belong to one classifier
        self._facts: _ImageFacts | None = None
        self._load.connect(self._run_load)
        self._wake.connect(self._run_pending)

    # --- called from the UI thread -------------------------------------------------------
    def load(self, source: str, weights: str | Path | None = None, class_names: str | Path | None = None,
             device: str = "cpu") -> None:
        """Load "demo", a torchvision architecture with ``weights``, or a TorchScript file
        (core.models.classifier_loading.load_classifier); answers ``loaded`` or ``load_failed``."""
        self.cancel()
        self._load.emit(str(source), None if weights in (None, "") else str(weights),
                        None if class_names in (None, "") else str(class_names), device)

    def request(self, request: ClassifierRequest) -> int:
        """Queue ``request``, replacing one not yet started and stopping a running one; returns
        its serial, which ``computed`` or ``failed`` will carry."""
        with self._lock:
            self._serial += 1
            request.serial = self._serial
            self._pending = request
        self._wake.emit()
        return request.serial

    def cancel(self) -> None:
        """Drop the waiting request and stop the running one; neither answers."""
        with self._lock:
            self._serial += 1
            self._pending = None

    # --- run in the worker thread --------------------------------------------------------
    @Slot(str, object, object, str)
    def _run_load(self, source: str, weights, class_names, device: str) -> None:
        from core.models.classifier_loading import load_classifier
        from core.models.device import DeviceError, select_device

        try:
            record = load_classifier(source, weights, class_names=class_names, device=select_device(device))
        except (ClassifierError, DeviceError, OSError, ValueError, RuntimeError) as error:
            self.load_failed.emit(f"Cannot load the classifier {source}: {error}")
            return
        self.record, self._facts = record, None
        self._generation += 1
        self.loaded.emit(record.name or source, list(record.class_names))

    @Slot()
    def _run_pending(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
        if request is None:
            return  # served by an earlier wake-up, or cancelled
        if self.record is None:
            self.failed.emit(request.serial, "No classifier is loaded: choose one and press Load.")
            return
        start = time.perf_counter()
        try:
            result = self._explain(request)
            if not result.complete:  # the map and top-k now; the trust scores can take seconds
                self._emit(result, start)
                self._complete(result)
            self._emit(result, start)
        except Superseded:
            return
        except (ClassifierError, RuntimeError, ValueError, MemoryError) as error:  # say so, keep running
            if request.serial == self._serial:
                self.failed.emit(request.serial, f"The classifier failed on this image: {error}")

    def _emit(self, result: ClassifierResult, start: float) -> None:
        result.seconds = time.perf_counter() - start
        if result.request.serial == self._serial:  # a newer request makes this one stale: dropped
            self.computed.emit(copy.copy(result))  # the panel keeps its own: this one is completed later

    def _check(self, request: ClassifierRequest) -> None:
        if request.serial != self._serial:  # an int, replaced whole: read without the lock
            raise Superseded()

    def _facts_of(self, request: ClassifierRequest) -> _ImageFacts:
        """The remembered facts of the request's image, or new ones with its probabilities."""
        key = _image_key(request.image, self._generation, request.detector)
        if self._facts is None or self._facts.key != key:
            import torch

            record = self.record
            with torch.no_grad():
                logits = record.model(record.preprocessing.to_tensor(request.image, record.device))
            probabilities = torch.softmax(logits.float(), dim=1)[0].cpu().numpy().astype(np.float32)
            self._facts = _ImageFacts(key, probabilities)
        return self._facts

    def _explain(self, request: ClassifierRequest) -> ClassifierResult:
        """Top-k and the map; complete (with VOICE and the trust scores) when those are remembered."""
        record, image = self.record, request.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        facts = self._facts_of(request)
        order = np.argsort(-facts.probabilities, kind="stable")
        contrast = values = None
        map_note = ""
        self._check(request)
        if request.method == "voice":
            self._voice(request, facts)
            values = None if facts.voice is None else facts.voice.uncertainty
            map_note = facts.voice_note
        else:
            from core.gradients.explain_image import explain_image

            wanted_q = request.contrast if request.method in CONTRAST_METHODS else None
            if wanted_q is not None and not 0 <= wanted_q < record.num_classes:
                raise ValueError(f"contrast class {wanted_q} is not a class of {record.name}")
            try:
                explanation = explain_image(record, image, request.method, contrast=wanted_q)
                values, contrast = explanation.map, explanation.contrast
            except ClassifierError as error:  # e.g. TorchScript: no layer to hook
                map_note = f"No {request.method} map: {error}"
        self._check(request)
        top = [(int(i), float(facts.probabilities[i])) for i in order[:min(TOP_K, len(order))]]
        result = ClassifierResult(request, record.name, list(record.class_names), facts.probabilities, top,
                                  int(order[0]), contrast, values, facts.voice, facts.trust, threading.get_ident())
        result.map_note, result.notes = map_note, facts.notes_for(map_note)
        return result

    def _complete(self, result: ClassifierResult) -> None:
        """Add VOICE and the trust scores to ``result`` (remembered for its image)."""
        from core.gradients.purview import PurviewDetectorError
        from core.gradients.trust_scores import image_trust_scores

        request, facts, record = result.request, self._facts, self.record
        self._voice(request, facts)
        self._check(request)
        try:
            trust = image_trust_scores(record, request.image, detector=request.detector)
        except (PurviewDetectorError, KeyError) as error:  # a detector made for another classifier
            facts.notes.append(f"Purview detector not used: {error}")
            self._check(request)
            trust = image_trust_scores(record, request.image)
        trust.pop("prediction", None)
        self._check(request)
        facts.trust = trust
        result.voice, result.trust, result.notes = facts.voice, trust, facts.notes_for(result.map_note)

    def _voice(self, request: ClassifierRequest, facts: _ImageFacts) -> None:
        if facts.voice is not None or facts.voice_note:
            return
        from core.gradients.voice import voice_image

        try:
            facts.voice = voice_image(self.record, request.image)
        except ClassifierError as error:
            facts.voice_note = f"No VOICE: {error}"
        self._check(request)


def start_classifier_worker() -> tuple[ClassifierWorker, QThread]:
    """Create the worker and its running thread; call :func:`stop_classifier_worker` before quitting."""
    thread = QThread()
    thread.setObjectName("classifier")
    worker = ClassifierWorker()
    worker.moveToThread(thread)
    thread.start()
    return worker, thread


def stop_classifier_worker(worker: ClassifierWorker, thread: QThread) -> None:
    """Stop the running computation at its next stage and wait for the thread to end."""
    worker.cancel()
    thread.quit()
    thread.wait()
