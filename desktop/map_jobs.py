"""What the inference worker does for gradient maps: requests, answers and the work itself.

Two kinds of job, both run on the worker's thread (desktop.inference_worker schedules them: a
waiting decode first, then these, then prefetch):

* :class:`MapsRequest` → :class:`MapsResult`: every map and scalar of one timestep's candidate
  (core.gradients.sam_maps.compute_sam_maps on the cached embedding), the overlay of the map on
  show, the suggested next click (core.gradients.suggest_click) and each map as PNG bytes for
  the session. Cancellable between stages (``cancelled``).
* :class:`MapDrawRequest` → :class:`MapDrawing`: the overlay drawn again in another style
  (map, colormap, opacity) and, if asked, the suggestion from another uncertainty map, from
  maps already computed or saved by the session (loaded here, off the UI thread).

Coordinates: points are (x, y) image pixels; maps and masks (H, W), indexed (row, col).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QImage

from core.gradients import sam_maps
from core.gradients.suggest_click import Suggestion, suggest_click
from core.io.map_png import decode_map_png, encode_map_png
from core.models.embedding_cache import ImageEmbedding
from core.models.sam_engine import SamEngine
from core.prompting.prompt_set import PromptSet
from desktop.map_overlay import MapStyle, map_overlay


@dataclass
class MapsRequest:
    """Compute the maps of timestep ``timestep``'s candidate ``chosen`` of ``image_id``.

    image: (H, W, 3) uint8 (its embedding is the worker's cached one); prompts: the timestep's
    points; previous_low_res: the previous timestep's chosen (4g, 4g) low-res logits in the same
    round, or None; style: the overlay to draw; suggest_source: the uncertainty map to suggest a
    click from (None: no suggestion); shown: False for a timestep computed only to be recorded
    (no overlay, no suggestion). serial and decode_serial are set by the worker."""

    image_id: str
    image: np.ndarray
    prompts: PromptSet
    timestep: int
    chosen: int
    previous_low_res: np.ndarray | None = None
    style: MapStyle = MapStyle()
    suggest_source: str | None = None
    shown: bool = True
    serial: int = 0
    decode_serial: int = 0  # the worker's decode serial when asked: a newer decode cancels these maps

    @property
    def key(self) -> tuple[str, int, int]:
        """(image id, timestep, candidate): what the maps explain."""
        return self.image_id, self.timestep, self.chosen


@dataclass
class MapsResult:
    """The answer to a :class:`MapsRequest`: maps (name → (H, W) float32 in [0, 1]), scalars,
    the (H, W) bool mask they explain, the overlay of ``request.style`` (None if that map is not
    among them, or not shown), the suggestion (None: none asked or none found), each map as PNG
    bytes (core.io.map_png), and the seconds the worker spent."""

    request: MapsRequest
    maps: dict[str, np.ndarray]
    scalars: dict[str, float]
    mask: np.ndarray
    overlay: QImage | None
    suggestion: Suggestion | None
    pngs: dict[str, bytes]
    seconds: float


@dataclass
class MapDrawRequest:
    """Draw the overlay of ``style`` for ``key`` (image id, timestep, candidate) from ``arrays``
    (name → (H, W) float, those at hand) or, for the others, ``files`` (name → PNG path relative
    to the session, read with ``load``: path → bytes); with ``suggest_source``, also suggest a
    click from that map against ``mask`` (H, W) bool, away from ``points`` (N, 2) (x, y)."""

    key: tuple[str, int, int]
    style: MapStyle
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    load: Callable[[str], bytes] | None = None
    mask: np.ndarray | None = None
    points: np.ndarray | None = None
    suggest_source: str | None = None
    serial: int = 0


@dataclass
class MapDrawing:
    """The answer to a :class:`MapDrawRequest`: the overlay (None if the map is unavailable), the
    maps it had to load (name → (H, W) float32), and the suggestion (None: none asked or found)."""

    request: MapDrawRequest
    overlay: QImage | None
    loaded: dict[str, np.ndarray]
    suggestion: Suggestion | None


def _suggest(maps: dict[str, np.ndarray], source: str | None, mask: np.ndarray | None,
             points: np.ndarray | None) -> Suggestion | None:
    if source is None or mask is None or source not in maps:
        return None
    return suggest_click(maps[source], mask, source, points)


def app_map_options(engine: SamEngine) -> sam_maps.MapOptions:
    """On a CPU the prompt variants run two per decoder call, so a click waits for at most two
    variants' decode (batching all of them gains little there); on a GPU all in one call."""
    return sam_maps.MapOptions(variants_per_call=2 if engine.device.type == "cpu" else 0)


def compute_maps(engine: SamEngine, embedding: ImageEmbedding, request: MapsRequest,
                 cancelled: Callable[[], bool]) -> MapsResult:
    """Run :class:`MapsRequest` (see the module docstring). Raises core.gradients.sam_maps.MapsCancelled
    as soon as ``cancelled()`` says so (also after the maps, before drawing and encoding), and
    core.models.sam_engine.PromptError for a prompt set SAM cannot take."""
    start = time.perf_counter()
    points = request.prompts.coords
    maps = sam_maps.compute_sam_maps(engine, embedding, points, request.prompts.labels, chosen=request.chosen,
                                     previous_low_res=request.previous_low_res, cancelled=cancelled,
                                     options=app_map_options(engine))

    def check() -> None:  # a newer click waits at most one step (an encode: ~30 ms at 6 megapixels)
        if cancelled():
            raise sam_maps.MapsCancelled

    check()
    overlay = map_overlay(maps.maps, request.style) if request.shown else None
    check()
    suggestion = _suggest(maps.maps, request.suggest_source, maps.mask, points) if request.shown else None
    pngs = {}
    for name, values in maps.maps.items():
        check()
        pngs[name] = encode_map_png(values)
    return MapsResult(request, maps.maps, maps.scalars, maps.mask, overlay, suggestion, pngs,
                      time.perf_counter() - start)


def draw_maps(request: MapDrawRequest) -> MapDrawing:
    """Run :class:`MapDrawRequest`. A map file that cannot be read counts as unavailable."""
    wanted = {request.style.name} | ({request.suggest_source} if request.suggest_source else set())
    loaded = {}
    for name in sorted(wanted - set(request.arrays)):
        if name in request.files and request.load is not None:
            try:
                loaded[name] = decode_map_png(request.load(request.files[name]), request.files[name])
            except (OSError, ValueError):
                continue
    available = {**request.arrays, **loaded}
    overlay = map_overlay(available, request.style)
    suggestion = _suggest(available, request.suggest_source, request.mask, request.points)
    return MapDrawing(request, overlay, loaded, suggestion)
