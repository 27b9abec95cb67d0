"""The shipped demo classifier: a small CNN for the procedural shapes of core.synthetic.shape_classes.

Architecture (input (B, 3, 64, 64), output (B, C) logits):

    features  4 stages of [3×3 conv, BatchNorm, ReLU] × 2; 2×2 max-pool after the first three:
              16, 32, 64, 128 channels at 64, 32, 16, 8 px → A: (B, 128, 8, 8)
    pool      global average pool → (B, 128)
    dropout   p = 0.3 (on in training; MC dropout switches it on at inference)
    head      nn.Linear(128, C)

A global-average-pool + linear head, so the closed-form contrast weights apply with A the output
of ``features`` (its target layer). Weights ship as resources/models/demo_classifier.safetensors,
with demo_classifier.json beside them (class names, preprocessing, test accuracy, training run);
packaging/train_demo_classifier.py makes both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.paths import RESOURCES

DEMO_CLASSIFIER_PATH = RESOURCES / "models" / "demo_classifier.safetensors"
STAGE_WIDTHS = (16, 32, 64, 128)


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=False)]


class DemoClassifierNet(nn.Module):
    """The demo CNN: ``features`` (B, 3, S, S) → (B, 128, S/8, S/8), then pool, dropout, ``head``."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = STAGE_WIDTHS, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, width in enumerate(widths):
            layers += _conv(c_in, width) + _conv(width, width)
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float32 → (B, C) logits."""
        return self.head(self.dropout(self.pool(self.features(x)).flatten(1)))


@dataclass(frozen=True)
class DemoClassifierMetadata:
    """What demo_classifier.json records: class names, input size and normalisation, and the
    training run (seed, steps, held-out test accuracy and test-set size, wall-clock seconds and
    the CPU seconds of the training process, all threads; wall time grows when others share the
    CPU, CPU time does not)."""

    class_names: list[str]
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    test_accuracy: float
    test_images: int
    seed: int
    steps: int
    training_seconds: float
    cpu_seconds: float
    threads: int

    def to_json(self) -> str:
        return json.dumps({**self.__dict__, "mean": list(self.mean), "std": list(self.std)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "DemoClassifierMetadata":
        data = json.loads(text)
        data["mean"], data["std"] = tuple(data["mean"]), tuple(data["std"])
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def metadata_path(weights: Path) -> Path:
    """The metadata JSON beside a weights file: demo_classifier.safetensors → demo_classifier.json."""
    return weights.with_suffix(".json")
