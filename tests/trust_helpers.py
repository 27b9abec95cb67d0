"""Shared fixtures of the trust tests: a small random CNN with a GAP + linear head and dropout,
its classifier record, and a tiny generated image folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.models.classifier import ClassifierRecord, Preprocessing

CLASS_NAMES = ["red", "green", "blue"]


def small_cnn(num_classes: int = 3, dropout: float = 0.3, seed: int = 0) -> nn.Module:
    """conv-BN-ReLU ×2 → global average pool → dropout → linear; eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 12, 3, padding=1, stride=2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(12, num_classes),
    ).eval()


def small_record(num_classes: int = 3, dropout: float = 0.3, seed: int = 0, size: int = 32) -> ClassifierRecord:
    names = CLASS_NAMES if num_classes == 3 else [f"c{i}" for i in range(num_classes)]
    return ClassifierRecord(small_cnn(num_classes, dropout, seed), names, Preprocessing(size=size), name="small-cnn")


def colour_image(rng: np.random.Generator, channel: int, size: tuple[int, int] = (40, 48)) -> np.ndarray:
    """An (H, W, 3) uint8 image dominated by one colour channel, with noise and a random square."""
    image = rng.integers(0, 90, size=(*size, 3)).astype(np.uint8)
    image[..., channel] = rng.integers(150, 256, size=size)
    y, x = rng.integers(0, size[0] - 10), rng.integers(0, size[1] - 10)
    image[y:y + 10, x:x + 10] = rng.integers(0, 256, size=3)
    return image


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(encoded.tobytes())


def make_folder(root: Path, per_class: int = 4, ood: int = 4, seed: int = 0) -> tuple[Path, Path]:
    """root/test/<class>/*.png (one bad file among them) and root/ood/*.png (greyscale noise)."""
    rng = np.random.default_rng(seed)
    for channel, name in enumerate(CLASS_NAMES):
        for i in range(per_class):
            write_png(root / "test" / name / f"{i}.png", colour_image(rng, channel))
    (root / "test" / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    for i in range(ood):
        grey = rng.integers(0, 256, size=(36, 36), dtype=np.uint8)
        write_png(root / "ood" / "noise" / f"{i}.png", np.repeat(grey[..., None], 3, axis=2))
    return root / "test", root / "ood"
