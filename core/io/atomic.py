"""Atomic file writes: write a temporary file beside the target, flush it to disk, then replace.

A crash leaves either the old file or the new one, never half of one. Used for everything a
user keeps (exports, sessions, caches, trained weights).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# read once at import: os.umask can only be read by setting it, process-wide, and doing that
# on every write would race with files created by other threads meanwhile (an export thread)
_UMASK = _read_umask()


def _current_umask() -> int:
    return _UMASK


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None], durable: bool = True) -> Path:
    """Call ``write(file)`` on a temporary file in the target's folder, then move it into place.

    Creates missing parent folders. Returns the final path. On any error the temporary file is
    removed and the previous content of ``path`` (if any) is untouched. ``durable=False`` skips
    the fsync: still all-or-nothing if the process dies (the OS keeps the data), but not
    guaranteed through a power cut; for files written on every click.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> Path:
    """Atomically write ``data`` to ``path`` (``durable``: see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: handle.write(data), durable)


def atomic_save_npy(path: str | os.PathLike, array: np.ndarray, allow_pickle: bool = False) -> Path:
    """Atomically write ``array`` in .npy format (object arrays need ``allow_pickle=True``)."""
    return atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=allow_pickle))


def atomic_torch_save(obj: object, path: str | os.PathLike) -> Path:
    """Atomically ``torch.save`` an object (a state dict, say)."""
    import torch

    return atomic_write(path, lambda handle: torch.save(obj, handle))
