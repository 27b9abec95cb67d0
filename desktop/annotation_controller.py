"""The annotation controller: turns what the annotator does into session events and decode requests.

It owns the study (the image list), the :class:`core.prompting.session.AnnotationSession`
and one undo stack per image; views never change state themselves, they call the
controller and repaint on its signals (the model/view split napari uses). The model runs
in the inference worker; the controller only posts requests and records answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from core.analysis.over_prompting import OverPromptingStatus, over_prompting_status
from core.prompting.prompt_set import PromptSet
from core.prompting.protocol import CLOSE_IMAGE, NEW_ROUND, ProtocolRules, protocol_decision, ready_to_decode
from core.prompting.session import AnnotationSession, ImageRecord, MissingMaskError, Timestep
from core.prompting.study import LoadedImage, StudyImage, StudyImageError
from desktop.inference_worker import DecodeRequest, DecodeResult, InferenceWorker, default_candidate
from desktop.map_controller import MapController
from desktop.map_overlay import MapStyle
from desktop.mask_overlay import MaskOverlay, OverlayStyle
from desktop.prompt_commands import PromptEdit

OUTPUT_CHOICES = ("first", "best")  # PointPrompt scored the first multimask output; "best" = highest predicted IoU


@dataclass
class ControllerOptions:
    """default_output: which candidate is chosen automatically ("first" as in PointPrompt, or
    "best" predicted IoU); blind: hide ground-truth scores from the annotator (still recorded);
    protocol: the PointPrompt collection rules (SAM only with both kinds of points, rounds end
    after ``patience`` non-improving changes), or None for free mode. maps: compute gradient maps
    after each answer (desktop.map_controller); map_style: the map overlay on show;
    suggest_source: the uncertainty map suggestions come from; suggest_continuously: show a
    suggested next click after every answer, not only on request."""

    default_output: str = "first"
    blind: bool = False
    over_prompt_threshold: float = 0.05
    prefetch_ahead: int = 3
    protocol: ProtocolRules | None = None
    maps: bool = True
    map_style: MapStyle = MapStyle()
    suggest_source: str = "intervention_total"
    suggest_continuously: bool = False


class MaskView(Protocol):
    """What the controller asks of the canvas: how it draws mask overlays."""

    overlay_style: OverlayStyle


@dataclass
class Anticipation:
    """A decode started at a mouse press, for the prompt set its click will make: its answer is
    held here (``preview``: the shown mask and its overlay, as mask_preview sends them;
    ``result``: the DecodeResult) until the release confirms the click, and dropped otherwise."""

    image_id: str
    prompts: PromptSet
    serial: int
    preview: tuple | None = None
    result: DecodeResult | None = None
    failed: bool = False


DECODE_COMING = -1  # latest_serial between an edit and its decode request (awaiting_answer is True)
# An edit that SAM decodes is fsynced once its answer is logged (that event wakes the log's fsync
# thread, see core.io.event_log.EventLog.sync_soon), or this long after it if none comes
EDIT_SYNC_FALLBACK_MS = 1000
HISTORY_FIELDS = ("seq", "t", "event", "image", "action", "prompts")  # an edit event's fields that are not its detail


class AnnotationController(QObject):
    """See the module docstring."""

    image_opened = Signal()  # a new current image (or a load failure, see load_error)
    prompts_changed = Signal()  # the current prompt set changed
    result_changed = Signal()  # the shown timestep or its chosen candidate changed
    row_changed = Signal(int)  # an image-list row needs repainting
    message = Signal(str)  # something the annotator should read
    model_changed = Signal(str)  # description of the model now in use
    verdict_wanted = Signal(str)  # protocol mode: ask about this image's ground truth before leaving it
    mask_ready = Signal(object, object)  # (H, W) bool new mask and its MaskOverlay or None: paint before recording

    def __init__(self, worker: InferenceWorker, images: list[StudyImage], session: AnnotationSession,
                 options: ControllerOptions | None = None) -> None:
        super().__init__()
        self.worker, self.images, self.session = worker, images, session
        self.options = options or ControllerOptions()
        self.rows = {image.image_id: row for row, image in enumerate(images)}
        self.undo_group = QUndoGroup(self)
        self._stacks: dict[str, QUndoStack] = {}
        self._rebuilding = False  # see _rebuild_history
        self._history_index: dict[str, list[dict]] | None = None  # image id → its edit/round events
        self.index = -1
        self.current: StudyImage | None = None
        self.loaded: LoadedImage | None = None
        self.load_error = ""
        self.shown_timestep: int | None = None
        self.shown_masks: np.ndarray | None = None  # (M, H, W) candidates of the shown timestep
        self.latest_serial = 0  # serial of the newest decode request for the open image (0: none)
        self._answered_serial = 0  # serial of the newest answer shown
        self._previewed_serial = 0  # serial of the newest request whose shown mask was painted ahead of its scores
        self._anticipation: Anticipation | None = None  # see anticipate_add
        self.embedded: set[str] = set()
        self.broken: dict[str, str] = {}
        self.model_description = ""
        self.read_only = False  # a replay owns the canvas: no edits until it ends
        self.view: MaskView | None = None  # the canvas, set by the window: the worker draws overlays as it does
        self._edit_sync = QTimer(self)  # see EDIT_SYNC_FALLBACK_MS
        self._edit_sync.setSingleShot(True)
        self._edit_sync.timeout.connect(lambda: self.session.sync_log_soon())
        # explicitly queued: these slots touch the session and the widgets, so they run on the UI thread
        queued = Qt.ConnectionType.QueuedConnection
        self._connections = [(worker.mask_preview, self._on_mask_preview), (worker.decoded, self._on_decoded),
                             (worker.embedded, self._on_embedded),
                             (worker.prefetch_failed, self._on_prefetch_failed),
                             (worker.model_loaded, self._on_model_loaded),
                             (worker.model_failed, self._on_model_failed), (worker.failed, self.message),
                             (worker.decode_failed, self._on_decode_failed)]
        for signal, slot in self._connections:
            signal.connect(slot, queued)
        self.maps = MapController(self)  # gradient maps and suggested clicks of the shown timestep

    def detach(self) -> None:
        """Disconnect from the worker (before a new study replaces this controller)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self.maps.detach()

    # --- reading state -------------------------------------------------------------------
    @property
    def record(self) -> ImageRecord | None:
        return None if self.current is None else self.session.record(self.current.image_id)

    @property
    def prompts(self) -> PromptSet:
        return self.record.prompts if self.record is not None else PromptSet()

    @property
    def shown(self) -> Timestep | None:
        return None if self.shown_timestep is None else self.record.timesteps[self.shown_timestep]

    @property
    def awaiting_answer(self) -> bool:
        """True while the newest decode request for the open image has not been answered (or
        is about to be sent: :data:`DECODE_COMING`)."""
        return self.latest_serial != 0 and self.latest_serial != self._answered_serial

    @property
    def anticipating(self) -> bool:
        """True while a held press's decode waits for its release (see anticipate_add)."""
        return self._anticipation is not None

    @property
    def truth(self) -> np.ndarray | None:
        return None if self.loaded is None else self.loaded.truth

    def over_prompting(self) -> OverPromptingStatus:
        steps = self.record.timesteps if self.record is not None else []
        return over_prompting_status([t.iou for t in steps], [t.round for t in steps],
                                     self.options.over_prompt_threshold)

    # --- navigation ----------------------------------------------------------------------
    def open_index(self, row: int) -> None:
        """Open image ``row`` of the study (logged); a broken file is reported and skipped over."""
        if not 0 <= row < len(self.images) or row == self.index:
            return
        self._ask_verdict_before_leaving()
        self.maps.leave("open")
        image = self.images[row]
        self.session.open_image(image.image_id)
        self.index, self.current = row, image
        self.shown_timestep, self.shown_masks, self.latest_serial = None, None, 0
        self._anticipation = None
        try:
            self.loaded, self.load_error = image.load(), ""
        except StudyImageError as error:
            self.loaded, self.load_error = None, str(error)
            self.broken[image.image_id] = str(error)
            self.message.emit(f"Cannot open {image.source}: {error}")
        if self.loaded is not None and self.loaded.note:
            self.message.emit(self.loaded.note)
        self.undo_group.setActiveStack(self._stack(image.image_id))
        if self.loaded is not None:
            self.worker.request_embedding(image.image_id, self.loaded.image)
            self._restore_or_decode()
        self.image_opened.emit()
        self.result_changed.emit()
        self.maps.refresh()
        self.row_changed.emit(row)
        self._prefetch_ahead()

    def step(self, delta: int) -> None:
        self.open_index(self.index + delta)

    def _restore_or_decode(self) -> None:
        """Show the last timestep if it matches the prompt set (a revisit or a resume), else decode."""
        record = self.record
        if record.timesteps and record.timesteps[-1].prompts == record.prompts:
            last = len(record.timesteps) - 1
            try:
                masks = [self.session.timestep_mask(record.image_id, last, k)
                         for k in range(len(record.timesteps[last].mask_files))]
                self.shown_timestep, self.shown_masks = last, np.stack(masks)
                return
            except MissingMaskError as error:
                self.message.emit(str(error))
        if record.prompts and self._may_decode(record.prompts):
            self._request_decode()

    # --- prompt edits (undoable) ---------------------------------------------------------
    def _in_image(self, x: int, y: int) -> bool:
        """True if pixel (x, y) lies in the open image (False without one)."""
        if self.loaded is None:
            return False
        height, width = self.loaded.image.shape[:2]
        return 0 <= x < width and 0 <= y < height

    def add_point(self, x: int, y: int, label: int, suggested: bool = False) -> None:
        """Add a point at pixel (x, y); ignored outside the image or without an image.
        ``suggested``: it accepts the suggested next click (so does a click on that suggestion)."""
        if not self._in_image(x, y):
            return
        detail = {"x": int(x), "y": int(y), "label": int(label)}
        if suggested or self.maps.follows_suggestion(x, y, label):
            detail["suggested"] = True
        self._push("add", self.prompts.added(x, y, label), detail)

    def remove_point(self, index: int) -> None:
        if 0 <= index < len(self.prompts):
            self._push("remove", self.prompts.removed(index), {"index": int(index)})

    def remove_nearest(self, x: float, y: float, label: int) -> None:
        """Remove the point of kind ``label`` nearest to (x, y) (the lab tool's right click)."""
        points = self.prompts.coords
        candidates = [i for i, l in enumerate(self.prompts.labels) if l == label]
        if not candidates:
            kind = "inclusion" if label == 1 else "exclusion"
            self.message.emit(f"No {kind} point to remove (G / R switch the kind a click works on).")
            return
        nearest = min(candidates, key=lambda i: (points[i][0] - x) ** 2 + (points[i][1] - y) ** 2)
        self.remove_point(nearest)

    def move_point(self, index: int, x: int, y: int) -> None:
        if 0 <= index < len(self.prompts) and self._in_image(x, y):
            self._push("move", self.prompts.moved(index, x, y), {"index": int(index), "x": int(x), "y": int(y)})

    def clear_points(self) -> None:
        if len(self.prompts):
            self._push("clear", PromptSet(), {})

    def _push(self, action: str, after: PromptSet, detail: dict) -> None:
        if self.read_only:
            self.message.emit("A replay is shown: press \"Back to annotating\" to edit points.")
            return
        self._stack(self.current.image_id).push(PromptEdit(self, self.current.image_id, self.prompts, after,
                                                           action, detail))

    def apply_edit(self, image_id: str, prompts: PromptSet, action: str, detail: dict) -> None:
        """Called by undo commands: log the edit, repaint, and ask for a decode of the new set
        (or adopt the one its held press started, see :meth:`anticipate_add`).

        In that order: the edit is on disk before anything else happens (before any answer to
        it is shown or recorded), and the UI thread has done its share of the click before the
        worker starts decoding. Work on the UI thread during the decode holds the GIL the
        decoder needs between operations, and slowed it by about as much as that work took;
        asking last measured 0.02–0.06 lower per-click ratios (tiny SAM,
        bench/bench_annotation_app.py, alternating clicks)."""
        if self._rebuilding or self.current is None or image_id != self.current.image_id:
            return
        anticipation, self._anticipation = self._anticipation, None
        decode = bool(prompts) and self._may_decode(prompts)
        self.maps.before_edit(action, detail)
        self.session.edit(action, prompts, defer_sync=decode, **detail)
        if decode:
            self._edit_sync.start(EDIT_SYNC_FALLBACK_MS)
        # a decode is coming: the window holds the new point for its mask (see awaiting_answer)
        self.latest_serial = DECODE_COMING if decode else 0
        if not decode:
            self.shown_timestep, self.shown_masks = None, None
        self.prompts_changed.emit()
        if decode:
            self._request_decode(prompts, anticipation)
        else:
            self.result_changed.emit()
            self.maps.refresh()

    def anticipate_add(self, x: int, y: int, label: int) -> None:
        """A mouse press that will add point (x, y) if released in place: start its decode now.

        A person holds a click for ~100 ms; decoding meanwhile has the mask ready, or nearly,
        when the release makes the edit. The answer is neither shown nor recorded until then
        (:meth:`apply_edit` adopts it if the edit makes exactly this prompt set);
        :meth:`drop_anticipation` forgets it if the press becomes a drag or leaves the image."""
        self._anticipation = None
        if not self._in_image(x, y) or self.read_only or not self.model_description:
            return
        prompts = self.prompts.added(x, y, label)
        if self.options.protocol is not None and not ready_to_decode(prompts):
            return
        request = self._decode_request(prompts)
        self._anticipation = Anticipation(self.current.image_id, prompts, self.worker.request_decode(request))

    def drop_anticipation(self) -> None:
        """The anticipated press made no edit. Its request may have replaced one not yet started
        (newest request wins): if the latest is still unanswered, ask for it again."""
        if self._anticipation is None:
            return
        self._anticipation = None
        if self.latest_serial > 0 and self.awaiting_answer and self.loaded is not None:
            self._request_decode()
        self.maps.resume()  # its decode may have cancelled the maps on show

    def report_error(self, text: str) -> None:
        """An edit failed with an unexpected error (see desktop.prompt_commands): tell the annotator."""
        self.message.emit(text)

    def _may_decode(self, prompts: PromptSet) -> bool:
        if self.options.protocol is None or ready_to_decode(prompts):
            return True
        self.message.emit("PointPrompt protocol: SAM runs once there is at least one inclusion and one exclusion point.")
        return False

    def new_round(self, reason: str = "") -> None:
        """Start another attempt on this image from an empty prompt set (not undoable)."""
        if self.current is None or self.loaded is None or self.read_only:
            return
        self.maps.leave("round", same_image=True)
        self.session.new_round(reason)
        self._stack(self.current.image_id).clear()
        self.latest_serial, self.shown_timestep, self.shown_masks = 0, None, None
        self._anticipation = None
        self.prompts_changed.emit()
        self.result_changed.emit()
        self.maps.refresh()
        self.message.emit(f"Round {self.record.round + 1} of {self.current.image_id}: start again from no points.")

    def set_read_only(self, on: bool) -> None:
        """While on, edits are refused and undo/redo are off (a replay is shown)."""
        self.read_only = on
        self.drop_anticipation()
        active = None if on or self.current is None else self._stack(self.current.image_id)
        self.undo_group.setActiveStack(active)
        self.maps.refresh_view()

    def choose(self, candidate: int) -> None:
        """The annotator picks candidate mask ``candidate`` for the shown timestep (logged)."""
        if self.read_only or self.shown is None or candidate == self.shown.chosen or not 0 <= candidate < len(self.shown.mask_files):
            return
        self.maps.leave("choose")
        self.session.choose(self.current.image_id, self.shown_timestep, candidate)
        self.result_changed.emit()
        self.maps.refresh()  # the maps of the candidate now chosen
        self.row_changed.emit(self.index)

    # --- model ---------------------------------------------------------------------------
    def load_model(self, checkpoint: Path | None, variant: str | None = None, device: str = "auto") -> None:
        self.worker.load_model(checkpoint, variant, device)

    def _decode_request(self, prompts: PromptSet) -> DecodeRequest:
        return DecodeRequest(self.current.image_id, self.loaded.image, prompts, self.truth,
                             shown_rule=self.options.default_output,
                             overlay_style=None if self.view is None else self.view.overlay_style)

    def _request_decode(self, prompts: PromptSet | None = None, anticipation: Anticipation | None = None) -> None:
        """Ask the worker to decode ``prompts`` (default: the image's), or adopt the anticipated
        decode of that very prompt set, showing what it has answered so far."""
        prompts = self.prompts if prompts is None else prompts
        if anticipation is not None and not anticipation.failed and anticipation.prompts == prompts \
                and anticipation.image_id == self.current.image_id:
            self.latest_serial = anticipation.serial
            if anticipation.preview is not None:
                self._on_mask_preview(anticipation.serial, *anticipation.preview)
            if anticipation.result is not None:  # recorded on the next event-loop turn, as a fresh answer
                # is, not inside the undo command that made the edit (the protocol may clear its stack)
                QTimer.singleShot(0, self, lambda: self._on_decoded(anticipation.result))
            return
        self.latest_serial = self.worker.request_decode(self._decode_request(prompts))

    def _held(self, serial: int) -> Anticipation | None:
        """The anticipation whose answer this is, while its click is unconfirmed."""
        anticipation = self._anticipation
        return anticipation if anticipation is not None and anticipation.serial == serial else None

    def _on_mask_preview(self, serial: int, mask: np.ndarray, overlay: MaskOverlay | None) -> None:
        """The shown candidate of the newest request, ahead of the others and the scores: paint it."""
        if (held := self._held(serial)) is not None:
            held.preview = (mask, overlay)
            return
        if not self.session.closed and self.current is not None and serial == self.latest_serial:
            self._previewed_serial = serial
            self.maps.clear_view()  # the old mask's map and suggestion go in the same frame
            self.mask_ready.emit(mask, overlay)  # painted synchronously

    def _on_decoded(self, result: DecodeResult) -> None:
        """Record the answer if its prompt set is still the image's (the session checks), even if
        the annotator has moved to another image meanwhile; show it if it is the latest request."""
        if self.session.closed:
            return  # an answer that arrived after this session was closed (another one is open)
        if (held := self._held(result.request.serial)) is not None:
            held.result = result
            return
        request = result.request
        latest = self.current is not None and request.image_id == self.current.image_id \
            and request.serial == self.latest_serial
        predicted = [float(v) for v in result.decoded.predicted_iou]
        chosen = default_candidate(predicted, request.shown_rule)
        if latest:
            self._answered_serial = request.serial
            if self._previewed_serial != request.serial:  # painted already if its preview came
                self.maps.clear_view()
                self.mask_ready.emit(result.decoded.masks[chosen], None)  # the annotator sees it first, then we record
        index = self.session.record_timestep(request.image_id, request.prompts, result.decoded.masks,
                                             predicted, result.ious, result.dices, chosen, result.seconds,
                                             model=result.model, device=result.device,
                                             mask_pngs=result.mask_pngs or None)
        if index is None and latest and self.session.repeats_last_timestep(request.image_id, request.prompts,
                                                                              result.model):
            index = len(self.record.timesteps) - 1  # the same answer again: show the timestep that has it
        if index is None:
            return
        if not latest:
            if request.image_id in self.rows:
                self.row_changed.emit(self.rows[request.image_id])
            return
        self.shown_timestep, self.shown_masks = index, result.decoded.masks
        if self.session.write_error:
            self.message.emit(self.session.write_error)
        self.result_changed.emit()
        self.row_changed.emit(self.index)
        self._apply_protocol()
        self.maps.timestep_shown(request.image_id, index, result.decoded.low_res_logits)  # computed after the paint

    def _apply_protocol(self) -> None:
        """In protocol mode, end the round or close the image once patience runs out."""
        rules, record = self.options.protocol, self.record
        if rules is None or self.truth is None:
            return
        decision = protocol_decision([t.iou for t in record.timesteps if t.round == record.round], record.round, rules)
        reason = f"PointPrompt protocol: {rules.patience} changes without beating the round's best"
        if decision == NEW_ROUND:
            self.new_round(reason)
        elif decision == CLOSE_IMAGE:
            self.message.emit(f"{reason}: {self.current.image_id} is done, its best IoU stands.")
            if self.index + 1 < len(self.images):
                self.step(1)
            else:
                self.close_current()

    def _ask_verdict_before_leaving(self) -> None:
        """In protocol mode, as the lab's tool did after each image: ask about the ground truth of
        a prompted image that has no answer yet. The window asks once the switch is done (a
        dialog here would run a nested event loop in the middle of it) and records the answer
        for that image by id."""
        record = self.record
        if self.options.protocol is not None and record is not None and record.timesteps \
                and record.gt_suboptimal is None and not self.read_only:
            self.verdict_wanted.emit(record.image_id)

    def judge_ground_truth(self, suboptimal: bool | None, image_id: str | None = None) -> None:
        """Record the annotator's answer about an image's ground truth (default: the open image's;
        None withdraws it)."""
        image_id = image_id or (self.current.image_id if self.current is not None else None)
        if image_id is None or self.read_only or self.session.record(image_id).gt_suboptimal == suboptimal:
            return
        self.session.judge_ground_truth(image_id, suboptimal)
        if image_id in self.rows:
            self.row_changed.emit(self.rows[image_id])

    def close_current(self) -> None:
        """Close the open image (logged) and show none; picking an image in the list opens it again."""
        if self.current is None:
            return
        self._ask_verdict_before_leaving()
        self.maps.leave("close")
        row = self.index
        self.session.close_image()
        self.index, self.current, self.loaded, self.load_error = -1, None, None, ""
        self.shown_timestep, self.shown_masks, self.latest_serial = None, None, 0
        self._anticipation = None
        self.undo_group.setActiveStack(None)
        self.image_opened.emit()
        self.result_changed.emit()
        self.maps.refresh()
        self.row_changed.emit(row)

    def _on_model_loaded(self, description: str) -> None:
        self.model_description = description
        self.embedded.clear()
        self.model_changed.emit(description)
        if self.loaded is not None:
            self.worker.request_embedding(self.current.image_id, self.loaded.image)
            shown = self.shown
            if self.prompts and (shown is None or shown.prompts != self.prompts) and self._may_decode(self.prompts):
                self._request_decode()
        self._prefetch_ahead()

    def _on_decode_failed(self, serial: int, message: str) -> None:
        """A decode failed: if it was the newest request, no answer is coming for it. An
        anticipated one fails quietly: if its click comes, it is asked for (and fails) anew."""
        if (held := self._held(serial)) is not None:
            held.failed = True
            return
        if serial == self.latest_serial:
            self._answered_serial = serial
            self.maps.clear_view()
        self.message.emit(message)

    def _on_model_failed(self, message: str) -> None:
        kept = f"Still using {self.model_description}." if self.model_description else "No model loaded."
        self.message.emit(f"Cannot load the model. {message} {kept}")

    # --- embeddings ----------------------------------------------------------------------
    def _on_embedded(self, image_id: str, _seconds: float) -> None:
        self.embedded.add(image_id)
        if image_id in self.rows:
            self.row_changed.emit(self.rows[image_id])

    def _on_prefetch_failed(self, image_id: str, message: str) -> None:
        self.broken[image_id] = message
        if image_id in self.rows:
            self.row_changed.emit(self.rows[image_id])

    def _prefetch_ahead(self) -> None:
        if not self.model_description:
            return
        upcoming = self.images[self.index + 1: self.index + 1 + self.options.prefetch_ahead]
        self.worker.prefetch([i for i in upcoming if i.image_id not in self.embedded and i.image_id not in self.broken])

    def prefetch_all(self) -> None:
        """Embed every image of the study in the background (progress via the worker; cancellable)."""
        self.worker.prefetch([i for i in self.images if i.image_id not in self.embedded and i.image_id not in self.broken])

    def _stack(self, image_id: str) -> QUndoStack:
        if image_id not in self._stacks:
            stack = QUndoStack(self)
            self.undo_group.addStack(stack)
            self._stacks[image_id] = stack
            self._rebuild_history(image_id, stack)
        return self._stacks[image_id]

    def _rebuild_history(self, image_id: str, stack: QUndoStack) -> None:
        """Recreate an image's undo history from the session's log, so that Ctrl+Z still works
        after a restart: edits are pushed, undo/redo events undo and redo, a new round clears it,
        exactly as they did live (nothing is logged again). A mirror of the stack checks every
        logged undo/redo against the prompt set it produced; on any disagreement (a log from
        elsewhere) the history is dropped rather than trusted."""
        if self._history_index is None:  # one pass over the log for all images
            self._history_index = {}
            for event in self.session.events:
                if event["event"] in ("edit", "round"):
                    self._history_index.setdefault(event["image"], []).append(event)
        mirror: list[tuple[PromptSet, PromptSet]] = []  # (before, after) of each command
        position, prompts, consistent = 0, PromptSet(), True
        self._rebuilding = True
        try:
            for event in self._history_index.get(image_id, []):
                if event["event"] == "round":
                    stack.clear()
                    mirror, position, prompts = [], 0, PromptSet()
                    continue
                after, action = PromptSet.from_json(event["prompts"]), event["action"]
                if action in ("undo", "redo"):
                    possible = position > 0 if action == "undo" else position < len(mirror)
                    if possible:
                        position += -1 if action == "undo" else 1
                        result = mirror[position][0] if action == "undo" else mirror[position - 1][1]
                        (stack.undo if action == "undo" else stack.redo)()
                    consistent = consistent and possible and result == after
                else:
                    detail = {k: v for k, v in event.items() if k not in HISTORY_FIELDS}
                    stack.push(PromptEdit(self, image_id, prompts, after, action, detail))
                    del mirror[position:]
                    mirror.append((prompts, after))
                    position += 1
                prompts = after
        finally:
            self._rebuilding = False
        if not consistent:
            stack.clear()
