"""The settings file of a resumable run: a rerun into the same folder must use the same settings.

``check_run_settings(folder, settings, error)`` writes ``folder/<name>`` (JSON, atomically) on
the first run; on a rerun it compares the stored settings and raises ``error`` naming every
setting that differs, so results of two configurations never mix in one folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.io.atomic import atomic_write


def check_run_settings(folder: Path, name: str, settings: dict, error: type[Exception], what: str) -> None:
    """Store ``settings`` in ``folder/name``, or check them against the stored ones.

    ``what`` names the folder's contents in messages (e.g. "a replay", "automated results")."""
    path = folder / name
    if path.is_file():
        try:
            earlier = json.loads(path.read_text())
        except (OSError, ValueError) as problem:
            raise error(f"{path} cannot be read ({problem}); remove it, or write to another folder") from problem
        differ = [k for k in settings if earlier.get(k) != settings[k]]
        if differ:
            raise error(f"{folder} holds {what} made with other settings ("
                        + ", ".join(f"{k}: {earlier.get(k)!r} there, {settings[k]!r} now" for k in differ)
                        + "); write to another folder, or remove the old one")
        return
    data = (json.dumps(settings, indent=2) + "\n").encode()
    atomic_write(path, lambda handle: handle.write(data))
