"""An immutable, ordered set of point prompts.

Points are integer image pixels (x, y) = (column, row), origin top-left, as the PointPrompt
collection tool stored them. Labels follow SAM: 1 = inclusion (green), 0 = exclusion (red).
Every edit returns a new set, so undo, the event log and timesteps can hold sets safely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INCLUSION, EXCLUSION = 1, 0


@dataclass(frozen=True)
class PromptPoint:
    """One click: pixel (x, y) and label (1 inclusion, 0 exclusion)."""

    x: int
    y: int
    label: int


@dataclass(frozen=True)
class PromptSet:
    """Points in the order they were placed (the order numbers shown on the canvas)."""

    points: tuple[PromptPoint, ...] = ()

    def __len__(self) -> int:
        return len(self.points)

    def added(self, x: int, y: int, label: int) -> PromptSet:
        if label not in (INCLUSION, EXCLUSION):
            raise ValueError(f"label must be 1 (inclusion) or 0 (exclusion), got {label}")
        return PromptSet(self.points + (PromptPoint(int(x), int(y), int(label)),))

    def removed(self, index: int) -> PromptSet:
        return PromptSet(self.points[:index] + self.points[index + 1:])

    def moved(self, index: int, x: int, y: int) -> PromptSet:
        point = self.points[index]
        return PromptSet(self.points[:index] + (PromptPoint(int(x), int(y), point.label),) + self.points[index + 1:])

    @property
    def coords(self) -> np.ndarray:
        """(N, 2) float64 (x, y), the form SAM's predictor takes."""
        return np.array([(p.x, p.y) for p in self.points], dtype=np.float64).reshape(-1, 2)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 labels."""
        return np.array([p.label for p in self.points], dtype=np.int64)

    def of_label(self, label: int) -> np.ndarray:
        """(n, 2) int64 (x, y) of the points with ``label``, in placement order (PointPrompt's
        points/<i>_green.npy and _red.npy elements)."""
        return np.array([(p.x, p.y) for p in self.points if p.label == label], dtype=np.int64).reshape(-1, 2)

    @property
    def counts(self) -> tuple[int, int]:
        """(inclusion points, exclusion points)."""
        included = sum(p.label == INCLUSION for p in self.points)
        return included, len(self.points) - included

    def to_json(self) -> list[list[int]]:
        """[[x, y, label], ...] for the event log."""
        return [[p.x, p.y, p.label] for p in self.points]

    @classmethod
    def from_json(cls, rows: list[list[int]]) -> PromptSet:
        return cls(tuple(PromptPoint(int(x), int(y), int(label)) for x, y, label in rows))
