"""Tidy CSV tables written atomically and streamed: one dict per row, the columns fixed up front.

Cells: "" for None and non-finite floats, floats to 10 significant digits, anything else as is.
Rows are written in 64 KiB chunks as they come, so a study-sized table never sits in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_write


def csv_cell(value) -> object:
    """A CSV cell: "" for None and non-finite floats, floats to 10 significant digits, else as is."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}" if np.isfinite(value) else ""
    return value


def csv_chunks(columns: tuple[str, ...], rows: Iterable[dict]) -> Iterator[bytes]:
    """The UTF-8 bytes of the table (header first), in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(row.get(k)) for k in columns})
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_csv(path: str | Path, columns: tuple[str, ...], rows: Iterable[dict]) -> Path:
    """Write ``rows`` (dicts; missing keys empty) to ``path`` atomically, streaming them."""
    def write(handle) -> None:
        for chunk in csv_chunks(columns, rows):
            handle.write(chunk)
    return atomic_write(path, write)
