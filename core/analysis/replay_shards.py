"""A replay's results on disk while it runs: one JSON line per finished image, appended to a shard.

    <out>/shards/<category>.jsonl     {"key": "<category>/<index>", "model": ..., <image result>}\\n ...

The line is written whole, flushed and fsynced before the next image starts: a complete line IS
the image's done-marker, so a resumed run skips every image with one. A kill can leave a torn
last line; it is cut off before anything is appended (:func:`repair_tail`) and its image is
replayed again. When a key occurs twice (an image replayed after a damaged line), the last
valid line wins. Reading keeps only byte offsets in memory, one image's line at a time.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

SHARDS = "shards"


def shard_name(category: str) -> str:
    """A file name for a category's shard: the name itself when it is plain, else a checksum."""
    return f"{category}.jsonl" if re.fullmatch(r"[\w .-]{1,100}", category) and not category.startswith(".") \
        else f"category-{zlib.crc32(category.encode()):08x}.jsonl"


def repair_tail(path: Path) -> None:
    """Cut a torn last line (no final newline) off ``path``."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(1 << 16, position)
            handle.seek(position - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.truncate(position - step + cut + 1)
                return
            position -= step
        handle.truncate(0)


class ShardWriter:
    """Appends finished images to ``<folder>/<shard>.jsonl``, one durable line each."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._handles: dict[str, BinaryIO] = {}

    def append(self, key: str, category: str, record: dict) -> None:
        """Write ``{"key": key, **record}`` as one line of the category's shard, flushed to disk."""
        name = shard_name(category)
        if name not in self._handles:
            path = self.folder / name
            if path.exists():
                repair_tail(path)
            self._handles[name] = open(path, "ab")
        handle = self._handles[name]
        handle.write((json.dumps({"key": key, **record}, allow_nan=False) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def index_shards(folder: str | Path) -> dict[str, tuple[Path, int, int]]:
    """{key: (shard file, byte offset, length)} of every complete, valid line (the last one per key)."""
    index: dict[str, tuple[Path, int, int]] = {}
    folder = Path(folder)
    if not folder.is_dir():
        return index
    for path in sorted(folder.glob("*.jsonl")):
        offset = 0
        with open(path, "rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    try:
                        key = json.loads(line)["key"]
                    except (ValueError, KeyError, TypeError):
                        key = None
                    if isinstance(key, str):
                        index[key] = (path, offset, len(line))
                offset += len(line)
    return index


def read_record(location: tuple[Path, int, int]) -> dict:
    """The image result stored at ``location`` (from :func:`index_shards`)."""
    path, offset, length = location
    with open(path, "rb") as handle:
        handle.seek(offset)
        return json.loads(handle.read(length))


def records(index: dict[str, tuple[Path, int, int]], keys: list[str]) -> Iterator[dict]:
    """The stored results of ``keys`` that are in ``index``, in the order of ``keys``, one at a time."""
    for key in keys:
        if key in index:
            yield read_record(index[key])
