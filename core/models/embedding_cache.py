"""Image embeddings cached in memory (LRU) and on disk.

The key is the image's content hash plus the model identity and precision, so a changed
image, model or precision never hits a stale entry. The disk cache lives in
``$POINTPROMPT_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/pointprompt-studio`` (default
``~/.cache/pointprompt-studio``), under ``embeddings/``. Files are written atomically; a file
that cannot be read (a crash of an older version, a full disk) is treated as a miss and removed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.io.atomic import atomic_write

CACHE_ENV = "POINTPROMPT_CACHE_DIR"


def default_cache_dir() -> Path:
    """The user cache folder for PointPrompt Studio (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pointprompt-studio"


def image_content_hash(image: np.ndarray) -> str:
    """Hex SHA-256 of an image array's shape, dtype and bytes."""
    digest = hashlib.sha256(f"{image.shape}|{image.dtype}|".encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


@dataclass
class ImageEmbedding:
    """SAM's embedding of one image and the geometry needed to map masks back to it.

    features: (1, C, g, g) float32 tensor (C = 256, g = 64 for official SAM).
    original_size: (H, W) of the image given to ``embed``.
    input_size: (h, w) of the resized image inside SAM's padded square input.
    key: the cache key (image hash, model identity, precision).
    """

    features: torch.Tensor
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    key: str

    def to(self, device: torch.device) -> "ImageEmbedding":
        """This embedding on ``device`` (itself when it is already there)."""
        if self.features.device == torch.device(device):
            return self
        return ImageEmbedding(self.features.to(device), self.original_size, self.input_size, self.key)


class EmbeddingCache:
    """A thread-safe LRU of :class:`ImageEmbedding` in memory, backed by .npz files on disk.

    memory_items: how many embeddings stay in memory (4 MiB each for official SAM).
    directory: the disk folder, or None for no disk cache.
    """

    def __init__(self, memory_items: int = 16, directory: Path | None = None) -> None:
        self.memory_items = memory_items
        self.directory = Path(directory) if directory is not None else None
        self._memory: OrderedDict[str, ImageEmbedding] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = {"memory": 0, "disk": 0, "miss": 0}

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / "embeddings" / f"{key}.npz"

    def get(self, key: str) -> ImageEmbedding | None:
        """The cached embedding for ``key`` (memory first, then disk), or None."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.hits["memory"] += 1
                return self._memory[key]
        found = self._read_disk(key)
        if found is None:
            self.hits["miss"] += 1
            return None
        self.hits["disk"] += 1
        self._remember(found)
        return found

    def put(self, embedding: ImageEmbedding) -> None:
        """Store in memory and, when there is a disk folder, on disk (atomically)."""
        self._remember(embedding)
        if self.directory is None:
            return
        features = embedding.features.detach().float().cpu().numpy()
        try:
            atomic_write(self._path(embedding.key), lambda handle: np.savez(
                handle, features=features,
                original_size=np.array(embedding.original_size), input_size=np.array(embedding.input_size)))
        except OSError:
            pass  # a full or read-only cache folder only costs recomputation later

    def _remember(self, embedding: ImageEmbedding) -> None:
        with self._lock:
            self._memory[embedding.key] = embedding
            self._memory.move_to_end(embedding.key)
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)

    def _read_disk(self, key: str) -> ImageEmbedding | None:
        if self.directory is None or not self._path(key).is_file():
            return None
        path = self._path(key)
        try:
            with np.load(path) as data:
                return ImageEmbedding(
                    torch.from_numpy(data["features"].copy()),
                    tuple(int(v) for v in data["original_size"]),
                    tuple(int(v) for v in data["input_size"]),
                    key,
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)
            return None
