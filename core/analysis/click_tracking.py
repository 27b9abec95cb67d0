"""Which click is which: tie every point of a recorded sequence to the click that placed it.

PointPrompt records the WHOLE point set at each timestep (cumulative), not the click. The
change behind timestep t is the difference between its set and the set before it in the same
round (a round starts from no points, so its first timestep's points are all new). Per label
(inclusion, exclusion), in this order:

1. unchanged: a point of t equal (same x, y) to a still unmatched point of t − 1 keeps its
   click; points are matched in array order, so duplicates pair first with first;
2. moved: when as many points vanished as appeared (one or more), each vanished point is paired
   with the nearest appearing one, closest pairs first, and the click keeps its id at the new
   place (the app records a drag as one change; PointPrompt's tool has no move, so there a
   remove + add between two timesteps reads as a move too);
3. otherwise the vanished points are removals (their clicks end) and the appearing ones are
   new clicks.

A click re-created by an undo is a new click. New clicks get ids in order of appearance over
the whole sequence (ties at one timestep: inclusion first, then array order), so the next
click of the same round is the one with the next id. Coordinates are (x, y) image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INCLUSION, EXCLUSION = 1, 0


@dataclass(frozen=True)
class Click:
    """One click of a sequence: ``id`` (order of appearance), ``round``, ``label`` (1 inclusion,
    0 exclusion), ``first`` (the timestep it appeared at), ``last`` (the last timestep it is
    present at), ``removed`` (the timestep it vanished at, None if it lasts to the round's end)
    and ``moved`` (the timesteps at which it moved)."""

    id: int
    round: int
    label: int
    first: int
    last: int
    removed: int | None
    moved: tuple[int, ...]


@dataclass
class TrackedSequence:
    """A recorded sequence with click ids.

    rounds: (T,) int64. green[t], red[t]: (n_t, 2), (m_t, 2) float64 (x, y), as recorded (the
    order of the files). green_ids[t], red_ids[t]: (n_t,), (m_t,) int64 click ids aligned with
    them. changes[t]: "add", "remove", "move", "unchanged" or "several" (more than one change
    since t − 1). clicks: every :class:`Click`, by id.
    """

    rounds: np.ndarray
    green: list[np.ndarray]
    red: list[np.ndarray]
    green_ids: list[np.ndarray]
    red_ids: list[np.ndarray]
    changes: list[str]
    clicks: list[Click]

    def __len__(self) -> int:
        return len(self.rounds)

    def round_timesteps(self, round_: int) -> list[int]:
        """The timesteps of round ``round_``, in order."""
        return [t for t in range(len(self)) if int(self.rounds[t]) == round_]

    def added_at(self, t: int) -> list[int]:
        """Ids of the clicks that appeared at timestep t."""
        return [c.id for c in self.clicks if c.first == t]

    def position(self, click: int, t: int) -> tuple[float, float] | None:
        """(x, y) of ``click`` at timestep t, or None when it is not present there."""
        for points, ids in ((self.green[t], self.green_ids[t]), (self.red[t], self.red_ids[t])):
            where = np.flatnonzero(ids == click)
            if len(where):
                x, y = points[where[0]]
                return float(x), float(y)
        return None


def _match(previous: np.ndarray, previous_ids: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, list[int], list[int]]:
    """Ids of ``current`` (−1 where new), and the unmatched indices of previous and current.

    previous: (p, 2), current: (c, 2) (x, y) of one label. Steps 1 and 2 of the module docstring."""
    ids = np.full(len(current), -1, np.int64)
    free = list(range(len(previous)))
    for i, point in enumerate(current):
        for j in free:
            if previous[j][0] == point[0] and previous[j][1] == point[1]:
                ids[i] = previous_ids[j]
                free.remove(j)
                break
    appeared = [i for i in range(len(current)) if ids[i] < 0]
    if free and len(free) == len(appeared):
        pairs = sorted((float(np.hypot(*(previous[j] - current[i]))), j, i) for j in free for i in appeared)
        used_j: set[int] = set()
        used_i: set[int] = set()
        for _, j, i in pairs:
            if j not in used_j and i not in used_i:
                ids[i] = -2 - int(previous_ids[j])  # moved: encoded apart from new points until resolved
                used_j.add(j)
                used_i.add(i)
        return ids, [], []
    return ids, free, appeared


def track_clicks(rounds: np.ndarray, green: list[np.ndarray], red: list[np.ndarray]) -> TrackedSequence:
    """Tie every point to its click (module docstring).

    rounds: (T,) round of each timestep; green[t], red[t]: (n_t, 2), (m_t, 2) (x, y) point sets
    present at t (as :class:`core.io.pointprompt_results.ImageResults` holds them)."""
    rounds = np.asarray(rounds, np.int64).reshape(-1)
    green = [np.asarray(g, np.float64).reshape(-1, 2) for g in green]
    red = [np.asarray(r, np.float64).reshape(-1, 2) for r in red]
    green_ids: list[np.ndarray] = []
    red_ids: list[np.ndarray] = []
    changes: list[str] = []
    info: dict[int, dict] = {}  # click id -> round, label, first, last, removed, moved
    empty = (np.zeros((0, 2)), np.zeros(0, np.int64))
    next_id = 0
    for t in range(len(rounds)):
        new_round = t == 0 or rounds[t] != rounds[t - 1]
        before = {INCLUSION: empty, EXCLUSION: empty} if new_round else {
            INCLUSION: (green[t - 1], green_ids[t - 1]), EXCLUSION: (red[t - 1], red_ids[t - 1])}
        counts = {"add": 0, "remove": 0, "move": 0}
        now: dict[int, np.ndarray] = {}
        for label, points in ((INCLUSION, green[t]), (EXCLUSION, red[t])):
            ids, removed, _ = _match(before[label][0], before[label][1], points)
            for j in removed:
                info[int(before[label][1][j])]["removed"] = t
            counts["remove"] += len(removed)
            for i in range(len(ids)):
                if ids[i] <= -2:
                    ids[i] = -2 - ids[i]
                    info[int(ids[i])]["moved"].append(t)
                    counts["move"] += 1
            now[label] = ids
        for label in (INCLUSION, EXCLUSION):
            for i in np.flatnonzero(now[label] == -1):
                now[label][i] = next_id
                info[next_id] = {"round": int(rounds[t]), "label": label, "first": t, "removed": None, "moved": []}
                next_id += 1
                counts["add"] += 1
            for click in now[label]:
                info[int(click)]["last"] = t
        green_ids.append(now[INCLUSION])
        red_ids.append(now[EXCLUSION])
        total = sum(counts.values())
        changes.append("unchanged" if total == 0 else "several" if total > 1 else next(k for k, v in counts.items() if v))
    clicks = [Click(k, v["round"], v["label"], v["first"], v["last"], v["removed"], tuple(v["moved"]))
              for k, v in sorted(info.items())]
    return TrackedSequence(rounds, green, red, green_ids, red_ids, changes, clicks)
