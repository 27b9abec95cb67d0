"""One writer per session folder: an exclusive lock on ``<folder>/.session.lock``.

Two app windows appending to one event log would interleave their events and corrupt the
session. The lock is an OS advisory lock (``fcntl.flock``), so the system releases it when the
process ends, even by ``kill -9``: a crash never leaves a stale lock behind. Where ``fcntl`` does
not exist (Windows) the lock is not taken.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".session.lock"


class FolderLockedError(Exception):
    """Another process has the session folder open; the message names the folder and the process."""


class FolderLock:
    """Hold with :meth:`acquire`, let go with :meth:`release` (also when garbage-collected)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None or self._fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FolderLockedError(
                f"{self.folder} is open in another PointPrompt Studio (process {holder}). Close that window "
                "first, or choose another output folder or annotator.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.release()
