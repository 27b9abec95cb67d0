"""Gradient maps and suggested clicks for the annotation controller (the model side of the
overlay panel): which maps to ask the worker for, what the session records, what views show.

After every answer the annotation controller shows, it asks for the maps of the shown
timestep's chosen candidate; the worker computes them after the decode (desktop.map_jobs), so
they never delay a mask, and a newer click cancels them. Each computed timestep is recorded
(``maps`` event, PNGs under the session's ``maps/``) even if it is no longer on show; timesteps
of the open image whose maps a newer click cancelled are computed later, when the worker is
idle, newest first (recorded, not shown). A timestep whose maps the session already holds
(a revisit, a resume) is shown from its saved PNGs and scalars, not computed again.

A suggested next click (core.gradients.suggest_click, from the uncertainty map chosen in the
panel) is computed with the maps and shown on request (S) or continuously; showing it is
logged (``suggest``), and so is its outcome: "followed" when the next change adds it (A, or a
click on it: that edit carries ``suggested: true``), else "ignored" with the change that came
instead (``suggest_outcome``).

Views repaint from three signals: ``changed`` (status, scalars, suggestion text),
``overlay_changed`` (:attr:`MapController.visible_overlay`) and ``suggestion_changed``
(:attr:`MapController.visible_suggestion`). Coordinates are (x, y) image pixels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from core.gradients.suggest_click import Suggestion
from desktop.map_jobs import MapDrawing, MapDrawRequest, MapsRequest, MapsResult
from desktop.map_overlay import MapStyle

if TYPE_CHECKING:
    from desktop.annotation_controller import AnnotationController

KEEP_LOW_RES = 32  # timesteps of the open image whose low-res logits are kept (the previous mask of the next maps)
FOLLOW_RADIUS_FRACTION = 0.015  # a click this close to the suggestion (of the longer side, ≥ 3 px) follows it

Key = tuple[str, int, int]  # (image id, timestep index, candidate)


class MapController(QObject):
    """See the module docstring. Owned by an AnnotationController, which calls its hooks."""

    changed = Signal()
    overlay_changed = Signal()
    suggestion_changed = Signal()

    def __init__(self, owner: AnnotationController) -> None:
        super().__init__(owner)
        self.owner, self.worker = owner, owner.worker
        self.key: Key | None = None  # what the maps on show (or being computed) explain
        self.scalars: dict[str, float] | None = None
        self.overlay: QImage | None = None
        self.suggestion: Suggestion | None = None  # computed for ``key`` from ``_suggested_from``
        self._suggested_from: str | None = None  # None: no suggestion computed yet
        self.shown_suggestion: tuple[Suggestion, Key] | None = None  # on show and logged
        self.status = ""
        self.computing = False
        self.cancelled: list[int] = []  # serials of maps requests the worker reported cancelled
        self._arrays_key: Key | None = None
        self._arrays: dict[str, np.ndarray] = {}  # the maps of _arrays_key at hand
        self._maps_serial = self._draw_serial = 0
        self._issued: set[int] = set()  # serials of this controller's maps requests (the worker has others')
        self._backfilling: Key | None = None
        self._backfill_serial = 0
        self._low_res: dict[int, np.ndarray] = {}  # timestep → (M, 4g, 4g) logits, open image
        self._wanted: set[int] = set()  # the open image's timesteps shown with maps on this visit
        self._suggest_wanted = False  # S pressed: show the suggestion when it comes
        self._marker_stale = False  # a suggestion's outcome is logged but its marker still painted
        queued = Qt.ConnectionType.QueuedConnection
        self._connections = [(self.worker.maps_ready, self._on_maps_ready),
                             (self.worker.maps_cancelled, self._on_maps_cancelled),
                             (self.worker.maps_failed, self._on_maps_failed),
                             (self.worker.map_drawn, self._on_map_drawn)]
        for signal, slot in self._connections:
            signal.connect(slot, queued)

    def detach(self) -> None:
        """Stop listening to the worker and cancel this controller's maps (a new study or session)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self.worker.cancel_maps()

    # --- reading -------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.owner.options.maps

    @property
    def style(self) -> MapStyle:
        return self.owner.options.map_style

    @property
    def session(self):
        return self.owner.session

    @property
    def visible_overlay(self) -> QImage | None:
        """The (W × H) overlay the canvas should show, or None."""
        return None if not self.enabled or self.owner.read_only or self.key is None else self.overlay

    @property
    def visible_suggestion(self) -> Suggestion | None:
        """The suggested click the canvas should mark, or None."""
        if not self.enabled or self.owner.read_only or self.shown_suggestion is None:
            return None
        return self.shown_suggestion[0]

    @property
    def available(self) -> set[str]:
        """Names of the maps the shown timestep has (computed or saved)."""
        if self.key is None:
            return set()
        names = set(self._arrays) if self._arrays_key == self.key else set()
        record = self._recorded(self.key)
        return names | (set(record.files) if record is not None else set())

    def current_key(self) -> Key | None:
        o = self.owner
        if o.current is None or o.shown_timestep is None or o.shown is None:
            return None
        return o.current.image_id, o.shown_timestep, o.shown.chosen

    def _recorded(self, key: Key):
        record = self.session.records.get(key[0])
        if record is None or key[1] >= len(record.timesteps):
            return None
        return record.timesteps[key[1]].maps.get(key[2])

    # --- hooks of the annotation controller ----------------------------------------------
    def timestep_shown(self, image_id: str, index: int, low_res: np.ndarray | None) -> None:
        """SAM's answer for timestep ``index`` of ``image_id`` was recorded and shown.
        low_res: its (M, 4g, 4g) low-res logits (the next timestep's previous mask)."""
        if self.owner.current is not None and image_id == self.owner.current.image_id:
            if low_res is not None:
                self._low_res[index] = low_res
                for old in sorted(self._low_res)[:-KEEP_LOW_RES]:
                    del self._low_res[old]
            if self.enabled:
                self._wanted.add(index)
        self.refresh()

    def refresh(self) -> None:
        """Follow the shown timestep and candidate: show its maps, computing them if need be."""
        key = self.current_key() if self.enabled else None
        if key != self.key:
            if key is None and self.computing:
                self.worker.cancel_maps()
            self._reset(key)
        if key is None:
            self.status = ("Gradient maps are off (View → Gradient maps)." if not self.enabled
                           else "Maps appear after SAM's answer to a click.")
        elif self.scalars is None and not self.computing:
            self._load_or_compute()
        self._emit_all()

    def clear_view(self) -> None:
        """A new mask is about to be painted: the maps and suggestion of the old one go in the same
        frame (the canvas only; the panel follows with the recorded timestep)."""
        visible = self.overlay is not None or self.shown_suggestion is not None or self._marker_stale
        self._reset(None)
        self._marker_stale = False
        if self.shown_suggestion is not None:
            self._outcome("ignored", "new mask", emit=False)
        if visible:
            self.overlay_changed.emit()
            self.suggestion_changed.emit()

    def refresh_view(self) -> None:
        """Read-only mode changed (a replay): show or hide the overlays."""
        self._emit_all()
        self._maybe_show_suggestion()

    def before_edit(self, action: str, detail: dict) -> None:
        """An edit is about to be logged: log what became of the suggestion on show (followed if
        the edit adds it with ``suggested``). Its marker goes with the next mask."""
        if self.shown_suggestion is not None:
            followed = action == "add" and bool(detail.get("suggested"))
            self._outcome("followed" if followed else "ignored", action, emit=False)
            self._marker_stale = True

    def leave(self, by: str, same_image: bool = False) -> None:
        """The annotator leaves the shown timestep (``by``: "open", "close", "round", "choose"):
        the suggestion on show is ignored, maps being computed for it are cancelled."""
        if self.shown_suggestion is not None:
            self._outcome("ignored", by)
        if by == "choose":
            return
        self.worker.cancel_maps()
        self._reset(None)
        self._backfilling = None
        if not same_image:
            self._low_res.clear()
            self._wanted.clear()

    def resume(self) -> None:
        """Nothing is coming from the worker (an anticipated press came to nothing): compute what
        a newer request cancelled."""
        if not self.enabled or self.owner.awaiting_answer or self.owner.anticipating:
            return
        if self.key is not None and self.scalars is None and not self.computing:
            self._load_or_compute()
            self._emit_all()
        elif not self.computing:
            self._backfill()

    def follows_suggestion(self, x: int, y: int, label: int) -> bool:
        """True if adding point (x, y) with ``label`` follows the suggestion on show (same label,
        within FOLLOW_RADIUS_FRACTION of the image's longer side)."""
        if self.shown_suggestion is None or self.owner.loaded is None:
            return False
        suggestion, key = self.shown_suggestion
        if self.owner.current is None or key[0] != self.owner.current.image_id or suggestion.label != label:
            return False
        radius = max(3.0, FOLLOW_RADIUS_FRACTION * max(self.owner.loaded.image.shape[:2]))
        return math.hypot(x - suggestion.x, y - suggestion.y) <= radius

    # --- what the panel and keys ask -----------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        """Turn the maps on or off (off: nothing computed, nothing logged for them)."""
        if bool(on) == self.enabled:
            return
        if not on:
            if self.shown_suggestion is not None:
                self._outcome("ignored", "maps off")
            self.worker.cancel_maps()
            self._backfilling = None
        self.owner.options.maps = bool(on)
        self.refresh()

    def set_style(self, style: MapStyle) -> None:
        """Show another map, colormap or opacity (redrawn by the worker)."""
        self.owner.options.map_style = style
        if self.key is not None and not self.computing:
            self._draw(suggest=False)
        self.changed.emit()

    def set_source(self, source: str) -> None:
        """Suggest clicks from another uncertainty map."""
        if source == self.owner.options.suggest_source:
            return
        self.owner.options.suggest_source = source
        if self.shown_suggestion is not None:
            self._outcome("ignored", "source")
        self.suggestion, self._suggested_from = None, None
        if self.key is not None and not self.computing:
            self._draw(suggest=True)
        self.changed.emit()

    def set_continuous(self, on: bool) -> None:
        self.owner.options.suggest_continuously = bool(on)
        self._maybe_show_suggestion()
        self.changed.emit()

    def suggest(self) -> None:
        """S: show where the next click should go (when the maps are there)."""
        if not self.enabled:
            self.owner.message.emit("Gradient maps are off (View → Gradient maps): there is nothing to suggest from.")
            return
        if self.key is None:
            self.owner.message.emit("Suggestions come from the maps of SAM's answer: place a point first.")
            return
        self._suggest_wanted = True
        if self._suggested_from == self.owner.options.suggest_source:
            self._maybe_show_suggestion()
        elif not self.computing:
            self._draw(suggest=True)

    def accept(self) -> None:
        """A: add the suggested point, through the same path as a click (logged, undoable)."""
        if self.shown_suggestion is None or self.owner.read_only:
            self.owner.message.emit("No suggestion on show: press S (or the Suggest button) for one.")
            return
        suggestion, key = self.shown_suggestion
        if self.owner.current is not None and self.owner.current.image_id == key[0]:
            self.owner.add_point(suggestion.x, suggestion.y, suggestion.label, suggested=True)

    # --- requests and answers ------------------------------------------------------------
    def _reset(self, key: Key | None) -> None:
        self.key, self.scalars, self.overlay = key, None, None
        self.suggestion, self._suggested_from, self._suggest_wanted = None, None, False
        self.computing, self._maps_serial, self._draw_serial = False, 0, 0

    def _load_or_compute(self) -> None:
        index, chosen = self.key[1], self.key[2]
        record = self._recorded(self.key)
        if record is not None:
            self.scalars = record.scalars
            self.status = f"Timestep {index}, candidate #{chosen + 1}: maps saved in this session."
            self._draw(suggest=True)
        else:
            self._compute(self.key, shown=True)

    def _compute(self, key: Key, shown: bool) -> None:
        image_id, index, chosen = key
        record = self.session.record(image_id)
        step, previous = record.timesteps[index], None
        if index > 0 and (logits := self._low_res.get(index - 1)) is not None:
            before = record.timesteps[index - 1]
            previous = logits[before.chosen] if before.round == step.round else None
        request = MapsRequest(image_id, self.owner.loaded.image, step.prompts, index, chosen, previous, self.style,
                              self.owner.options.suggest_source if shown else None, shown)
        serial = self.worker.request_maps(request)
        self._issued.add(serial)
        if shown:
            self._maps_serial, self.computing, self._backfilling = serial, True, None
            self.status = f"Computing the maps of timestep {index}, candidate #{chosen + 1}…"
        else:
            self._backfilling, self._backfill_serial = key, serial

    def _draw(self, suggest: bool) -> None:
        image_id, index, chosen = self.key
        record = self._recorded(self.key)
        masks = self.owner.shown_masks
        step = self.session.record(image_id).timesteps[index]
        request = MapDrawRequest(self.key, self.style,
                                 dict(self._arrays) if self._arrays_key == self.key else {},
                                 dict(record.files) if record is not None else {}, self.session.map_png,
                                 masks[chosen] if masks is not None and chosen < len(masks) else None,
                                 step.prompts.coords, self.owner.options.suggest_source if suggest else None)
        self._draw_serial = self.worker.request_map_drawing(request)

    def _backfill(self) -> None:
        """Compute the maps of a timestep of this visit that a newer click cancelled (newest first)."""
        owner = self.owner
        if not self.enabled or self.computing or owner.current is None or owner.awaiting_answer \
                or self._backfilling is not None:
            return
        record = owner.record
        for index in sorted(self._wanted, reverse=True):
            step = record.timesteps[index] if index < len(record.timesteps) else None
            if step is None or step.chosen in step.maps:
                self._wanted.discard(index)
                continue
            key = (record.image_id, index, step.chosen)
            if key != self.key:
                self._compute(key, shown=False)
                return

    def _on_maps_ready(self, result: MapsResult) -> None:
        request = result.request
        if request.serial not in self._issued:
            return  # another controller's (a study or session since replaced)
        self._issued.discard(request.serial)
        if self.session.closed or not self.enabled:
            return  # turned off meanwhile: nothing logged
        self.session.record_maps(request.image_id, request.timestep, request.chosen, result.scalars, result.pngs,
                                 result.seconds)
        if self._backfilling == request.key:
            self._backfilling = None
        if request.serial == self._maps_serial and request.key == self.key:
            self.computing = False
            self._arrays_key, self._arrays = request.key, result.maps
            self.scalars, self.overlay = result.scalars, result.overlay
            self.suggestion, self._suggested_from = result.suggestion, request.suggest_source
            self.status = (f"Timestep {request.timestep}, candidate #{request.chosen + 1}: maps computed in "
                           f"{1000 * result.seconds:.0f} ms.")
            source = self.owner.options.suggest_source
            if request.style != self.style or request.suggest_source != source:  # the panel changed meanwhile
                self._draw(suggest=request.suggest_source != source)
            self._emit_all()
            self._maybe_show_suggestion()
        self._backfill()

    def _on_maps_cancelled(self, serial: int) -> None:
        if serial not in self._issued:
            return
        self._issued.discard(serial)
        self.cancelled.append(serial)
        if serial == self._maps_serial:
            self.computing, self._maps_serial = False, 0
            self.status = "Maps cancelled: a newer click came first."
            self.changed.emit()
            self.resume()
        elif serial == self._backfill_serial and self._backfilling is not None:
            self._backfilling = None
            self.resume()

    def _on_maps_failed(self, serial: int, message: str) -> None:
        if serial not in self._issued:
            return
        self._issued.discard(serial)
        if serial == self._maps_serial:
            self.computing, self._maps_serial = False, 0
            self.status = message
            self.changed.emit()
        elif serial == self._backfill_serial and self._backfilling is not None:
            self._wanted.discard(self._backfilling[1])
            self._backfilling = None
        self.owner.message.emit(message)

    def _on_map_drawn(self, drawing: MapDrawing) -> None:
        request = drawing.request
        if request.serial != self._draw_serial or request.key != self.key:
            return
        self.overlay = drawing.overlay
        if self._arrays_key != request.key:
            self._arrays_key, self._arrays = request.key, dict(request.arrays)
        self._arrays.update(drawing.loaded)
        if request.suggest_source is not None:
            self.suggestion, self._suggested_from = drawing.suggestion, request.suggest_source
        self._emit_all()
        self._maybe_show_suggestion()

    # --- suggestions ---------------------------------------------------------------------
    def _maybe_show_suggestion(self) -> None:
        options = self.owner.options
        if self.key is None or not self.enabled or self.owner.read_only or self.session.closed:
            return
        if not (options.suggest_continuously or self._suggest_wanted) or self._suggested_from != options.suggest_source:
            return
        asked, self._suggest_wanted = self._suggest_wanted, False
        suggestion = self.suggestion
        if suggestion is None:
            if asked:
                self.owner.message.emit(f"No uncertain region in {options.suggest_source} to suggest a click from.")
            return
        if self.shown_suggestion is not None:
            if self.shown_suggestion == (suggestion, self.key):
                return
            self._outcome("ignored", "new suggestion", emit=False)
        self.session.log_suggestion(self.key[0], self.key[1], suggestion.x, suggestion.y, suggestion.label,
                                    suggestion.source, suggestion.mass)
        self.shown_suggestion = (suggestion, self.key)
        self.suggestion_changed.emit()
        self.changed.emit()

    def _outcome(self, outcome: str, by: str, emit: bool = True) -> None:
        (_, key), self.shown_suggestion = self.shown_suggestion, None
        if not self.session.closed:
            self.session.suggestion_outcome(key[0], outcome, by)
        if emit:
            self.suggestion_changed.emit()
            self.changed.emit()

    def _emit_all(self) -> None:
        self._marker_stale = False  # the views take the whole state
        self.changed.emit()
        self.overlay_changed.emit()
        self.suggestion_changed.emit()
