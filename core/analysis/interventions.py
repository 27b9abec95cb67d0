"""Interventions on one click of a recorded sequence: the prompt set each timestep would have had.

A sequence is a :class:`core.analysis.click_tracking.TrackedSequence` (every point tied to its
click). Each intervention changes one click ``k`` and gives, for any timestep t, the set SAM
would have seen at t; sets keep the recorded order (inclusion points first, each label in the
files' order), so an untouched set is the recorded one, exactly.

``leave_one_out``  k is dropped from every set it is present in (every later set, until it was
                   removed). A set left empty gives the empty mask (no decode).
``move_toward``    k is shifted by ``d`` pixels toward the nearest point of the ground truth's
                   boundary, stopping half a pixel short of it, so it stays on its side
                   (shift = min(d, δ − 0.5), δ its distance to the boundary).
``move_away``      k is shifted by ``d`` pixels straight away from that nearest boundary point,
                   then clipped to the image (it may cross another part of a thin object).
                   Both moves apply wherever k is present, from its position there; ``d`` is
                   ``move_px`` pixels, or by default 2 % of the image's longer side.
``reorder``        k swaps places in the click order with the next click j of its round (the
                   click with the next id, which appeared at a later timestep t_j): at every
                   t in [t_k, t_j) where k is present, k is replaced by j at the place j was
                   first put (appended to j's label's points). From t_j on, both are present, as
                   recorded: SAM's decoder takes the points as a set, so only sets between the
                   two clicks change. The last click of a round, and a click added at the same
                   timestep as the next one, have no reorder.

The boundary is the set of midpoints between 4-neighbouring pixels of which exactly one is in
the ground truth (pixel centres at integer (x, y)), so an integer click is never on it.
"""

from __future__ import annotations

import numpy as np

from core.analysis.click_tracking import INCLUSION, TrackedSequence

PromptSet = tuple[np.ndarray, np.ndarray]  # (n, 2) inclusion and (m, 2) exclusion points (x, y), float64
INTERVENTIONS = ("leave_one_out", "move_toward", "move_away", "reorder")
GROUPS = {"leave-one-out": ("leave_one_out",), "move": ("move_toward", "move_away"), "reorder": ("reorder",)}
DEFAULT_MOVE_FRACTION = 0.02


def resolve_interventions(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Intervention names from "leave-one-out,move,reorder" (groups or names), "all" or "none".

    Returns names of :data:`INTERVENTIONS` in that order; ValueError names the known ones."""
    parts = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    if parts == ["none"]:
        return ()
    if parts == ["all"]:
        return INTERVENTIONS
    chosen: set[str] = set()
    for part in parts:
        if part in GROUPS:
            chosen.update(GROUPS[part])
        elif part.replace("-", "_") in INTERVENTIONS:
            chosen.add(part.replace("-", "_"))
        else:
            raise ValueError(f"unknown intervention {part!r}; choose from {', '.join(GROUPS)} "
                             f"(or {', '.join(INTERVENTIONS)}), all or none")
    return tuple(name for name in INTERVENTIONS if name in chosen)


class BoundaryGeometry:
    """The ground truth's boundary (module docstring) and the two moves of a click.

    truth: (H, W) bool. distance: the shift ``d`` in pixels."""

    def __init__(self, truth: np.ndarray, distance: float) -> None:
        truth = np.asarray(truth, bool)
        self.height, self.width = truth.shape
        self.distance = float(distance)
        rows, cols = np.nonzero(truth[:, 1:] != truth[:, :-1])
        horizontal = np.stack([cols + 0.5, rows], axis=1)
        rows, cols = np.nonzero(truth[1:, :] != truth[:-1, :])
        vertical = np.stack([cols, rows + 0.5], axis=1)
        self.points = np.concatenate([horizontal, vertical]).astype(np.float64)  # (B, 2) (x, y)
        self._moves: dict[tuple[float, float, str], tuple[float, float]] = {}

    @classmethod
    def for_image(cls, truth: np.ndarray, move_px: float | None = None,
                  move_fraction: float = DEFAULT_MOVE_FRACTION) -> "BoundaryGeometry":
        """``move_px`` pixels, or ``move_fraction`` of the longer side (at least 1 px)."""
        distance = move_px if move_px is not None else max(1.0, move_fraction * max(truth.shape))
        return cls(truth, distance)

    def nearest(self, x: float, y: float) -> tuple[np.ndarray, float] | None:
        """The nearest boundary point (x, y) to (x, y) and its distance; None without a boundary."""
        if not len(self.points):
            return None
        squared = (self.points[:, 0] - x) ** 2 + (self.points[:, 1] - y) ** 2
        best = int(np.argmin(squared))
        return self.points[best], float(np.sqrt(squared[best]))

    def move(self, x: float, y: float, direction: str) -> tuple[float, float]:
        """(x, y) moved "toward" or "away" (module docstring); unchanged without a boundary or on it."""
        key = (x, y, direction)
        if key not in self._moves:
            found = self.nearest(x, y)
            if found is None or found[1] < 1e-9:
                self._moves[key] = (x, y)
            else:
                (bx, by), delta = found
                unit = np.array([bx - x, by - y]) / delta
                step = min(self.distance, max(delta - 0.5, 0.0)) if direction == "toward" else -self.distance
                nx = float(np.clip(x + step * unit[0], 0, self.width - 1))
                ny = float(np.clip(y + step * unit[1], 0, self.height - 1))
                self._moves[key] = (nx, ny)
        return self._moves[key]


def recorded_set(sequence: TrackedSequence, t: int) -> PromptSet:
    """The recorded (inclusion, exclusion) set of timestep t."""
    return sequence.green[t], sequence.red[t]


def _without(points: np.ndarray, ids: np.ndarray, click: int) -> np.ndarray:
    return points[ids != click]


def leave_one_out(sequence: TrackedSequence, click: int, t: int) -> PromptSet:
    """Timestep t's set without ``click``."""
    return (_without(sequence.green[t], sequence.green_ids[t], click),
            _without(sequence.red[t], sequence.red_ids[t], click))


def moved(sequence: TrackedSequence, click: int, t: int, geometry: BoundaryGeometry, direction: str) -> PromptSet:
    """Timestep t's set with ``click`` moved "toward" or "away" from the boundary (in place)."""
    out = []
    for points, ids in ((sequence.green[t], sequence.green_ids[t]), (sequence.red[t], sequence.red_ids[t])):
        points = points.copy()
        for i in np.flatnonzero(ids == click):
            points[i] = geometry.move(float(points[i][0]), float(points[i][1]), direction)
        out.append(points)
    return out[0], out[1]


def reorder_partner(sequence: TrackedSequence, click: int) -> int | None:
    """The click ``click`` swaps with in ``reorder`` (the next id, same round, later timestep), or None."""
    if click + 1 >= len(sequence.clicks):
        return None
    this, after = sequence.clicks[click], sequence.clicks[click + 1]
    return after.id if after.round == this.round and after.first > this.first else None


def reordered(sequence: TrackedSequence, click: int, t: int) -> PromptSet | None:
    """Timestep t's set with ``click`` and its :func:`reorder_partner` swapped; None without a partner."""
    partner = reorder_partner(sequence, click)
    if partner is None:
        return None
    green, red = sequence.green[t], sequence.red[t]
    first = sequence.clicks[partner].first
    if not (sequence.clicks[click].first <= t < first) or sequence.position(click, t) is None:
        return green, red
    green, red = leave_one_out(sequence, click, t)
    place = np.array([sequence.position(partner, first)], np.float64)
    if sequence.clicks[partner].label == INCLUSION:
        return np.concatenate([green, place]), red
    return green, np.concatenate([red, place])


def intervened_set(sequence: TrackedSequence, kind: str, click: int, t: int,
                   geometry: BoundaryGeometry | None = None) -> PromptSet | None:
    """Timestep t's set under intervention ``kind`` (:data:`INTERVENTIONS`) of ``click``; None when
    the intervention does not exist for it (reorder without a partner). Moves need ``geometry``."""
    if kind == "leave_one_out":
        return leave_one_out(sequence, click, t)
    if kind in ("move_toward", "move_away"):
        if geometry is None:
            raise ValueError("a move needs the ground truth's BoundaryGeometry")
        return moved(sequence, click, t, geometry, kind[len("move_"):])
    if kind == "reorder":
        return reordered(sequence, click, t)
    raise ValueError(f"unknown intervention {kind!r}; choose from {', '.join(INTERVENTIONS)}")


def intervened_sequence(sequence: TrackedSequence, kind: str, click: int,
                        geometry: BoundaryGeometry | None = None) -> list[PromptSet] | None:
    """Every timestep's set under intervention ``kind`` of ``click`` (None: no such intervention)."""
    if kind == "reorder" and reorder_partner(sequence, click) is None:
        return None
    return [intervened_set(sequence, kind, click, t, geometry) for t in range(len(sequence))]  # type: ignore[misc]


def set_key(prompt: PromptSet) -> bytes:
    """A byte key equal for equal sets in equal order (to decode each distinct set once)."""
    green, red = prompt
    return b"%d|" % len(green) + np.ascontiguousarray(green, np.float64).tobytes() + b"|" + \
        np.ascontiguousarray(red, np.float64).tobytes()
