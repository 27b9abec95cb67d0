"""Read .npy files from outside without running code from them.

``np.load(path, allow_pickle=True)`` unpickles object arrays, and a pickle can call any
function it names: a poisoned ``samples.npy`` runs its payload before any check. Here

* plain (numeric or bool) arrays load with ``allow_pickle=False``;
* object arrays (the published PointPrompt files: an array of per-image arrays) are
  unpickled by :class:`RestrictedUnpickler`, which resolves only the numpy names an array
  pickle needs (``_reconstruct``, ``_frombuffer``, ``scalar``, ``ndarray``, ``dtype``; and
  ``_codecs.encode`` to latin-1 bytes, as protocol 2 writes bytes). Any
  other name becomes an inert :class:`Refused` placeholder: nothing it names is imported or
  called, and the placeholders are reported afterwards, with the index of the element that
  held them;
* what comes out must be arrays of numeric or bool dtype, numpy or Python numbers, or lists,
  tuples and object arrays of those; anything else is refused the same way.

Every failure raises :class:`NpyReadError` (or its :class:`RefusedContentError`) naming the
file. Sizes are checked before decoding: the file against ``max_bytes``, a plain array's
header (shape × item size) against the file's own length.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

MAX_NPY_BYTES = 8 * 1024**3  # 8 GiB: larger than any published PointPrompt category file (~1 GB)
MAX_NESTING = 8  # containers inside containers; the published files use two levels

_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
ALLOWED_GLOBALS = frozenset(
    {(module, name) for module in _NUMPY_MODULES for name in ("_reconstruct", "scalar", "_frombuffer")}
    | {("numpy", "ndarray"), ("numpy", "dtype")}
)
_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class NpyReadError(Exception):
    """A .npy file cannot be read; the message names the file and what is wrong with it."""


class RefusedContentError(NpyReadError):
    """A .npy file holds something other than numbers; nothing of it was run.

    ``refused`` lists what was refused (e.g. ``"posix.system"``, ``"str"``); ``indices`` the
    flat indices of the top-level elements that held it (empty when it sat outside them).
    """

    def __init__(self, message: str, refused: list[str], indices: list[int]) -> None:
        super().__init__(message)
        self.refused, self.indices = refused, indices


class Refused:
    """Stands in for a global a pickle asked for and did not get: calling it, building it or
    setting its state only records arguments' absence; it never runs anything."""

    name = "?"

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass

    def __repr__(self) -> str:
        return f"<refused {self.name}>"


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`; every other global becomes a
    :class:`Refused` subclass, and its name is kept in ``refused``."""

    def __init__(self, file, **kwargs) -> None:
        super().__init__(file, **kwargs)
        self.refused: list[str] = []

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):  # protocol 2 stores bytes as encode(text, "latin1")
            return _latin1_bytes
        if (module, name) in ALLOWED_GLOBALS:
            if module.startswith("numpy.core.") and hasattr(np, "_core"):  # files from numpy 1.x, read on 2.x
                module = "numpy._core." + module.removeprefix("numpy.core.")
            return super().find_class(module, name)
        self.refused.append(f"{module}.{name}")
        return type("Refused", (Refused,), {"name": f"{module}.{name}"})

    def persistent_load(self, pid):
        self.refused.append("a persistent id")
        return Refused()


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and only that."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _foreign(value, depth: int = 0) -> str | None:
    """What in ``value`` is not plain numbers (a short description), or None."""
    if isinstance(value, Refused):
        return value.name
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _NUMERIC_KINDS:
            return None
        if value.dtype.kind != "O":
            return f"an array of dtype {value.dtype}"
        items = value.ravel().tolist()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return type(value).__name__
    if depth >= MAX_NESTING:
        return f"containers nested deeper than {MAX_NESTING}"
    for item in items:
        found = _foreign(item, depth + 1)
        if found is not None:
            return found
    return None


def _open_checked(path: Path, max_bytes: int):
    if not path.is_file():
        raise NpyReadError(f"{path} is missing")
    size = path.stat().st_size
    if size > max_bytes:
        raise NpyReadError(f"{path} is {size / 1024**3:.1f} GiB, over the {max_bytes / 1024**3:.0f} GiB limit "
                           "for one .npy file; split it (one file per image)")
    return open(path, "rb")


def read_npy_header(path: str | Path, max_bytes: int = MAX_NPY_BYTES) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a .npy header, without reading the data."""
    path = Path(path)
    with _open_checked(path, max_bytes) as handle:
        return _header(handle, path)


def _header(handle, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(handle)
        if version == (2, 0):
            return npy_format.read_array_header_2_0(handle)
        raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise NpyReadError(f"{path} is not a readable .npy file ({error}); it is damaged or of another "
                           "format: save it again with numpy.save") from error


def _unpickle_objects(handle, path: Path, shape: tuple[int, ...]) -> np.ndarray:
    unpickler = RestrictedUnpickler(io.BytesIO(handle.read()), encoding="latin1")
    try:
        array = unpickler.load()
    except Exception as error:  # noqa: BLE001 -- any failure of a hostile stream is the file's fault
        if unpickler.refused:
            raise RefusedContentError(f"{path} asks to run {', '.join(sorted(set(unpickler.refused)))}, which was "
                                      "refused (nothing was run); the file is not a plain array of arrays: get a "
                                      "clean copy", sorted(set(unpickler.refused)), []) from error
        raise NpyReadError(f"{path} holds a damaged object array ({type(error).__name__}: {error}); "
                           "get a clean copy of the file") from error
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        found = _foreign(array) or f"a {type(array).__name__} of shape {getattr(array, 'shape', '?')}"
        raise RefusedContentError(f"{path} holds {found} where its header promises an array of shape {shape}; "
                                  "refused (nothing was run)", [found], [])
    bad = [(i, what) for i, item in enumerate(array.ravel().tolist()) if (what := _foreign(item)) is not None]
    if bad:
        shown = ", ".join(f"element {i}: {what}" for i, what in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise RefusedContentError(f"{path} holds something other than numbers ({shown}); refused (nothing was "
                                  "run): keep only numeric arrays in the file", sorted({w for _, w in bad}),
                                  [i for i, _ in bad])
    return array


def read_npy(path: str | Path, allow_objects: bool = True, max_bytes: int = MAX_NPY_BYTES) -> np.ndarray:
    """Read a .npy file safely (see the module docstring).

    allow_objects: False refuses object arrays outright (for files that must be plain numbers).
    Raises :class:`NpyReadError` (missing, too large, damaged) or :class:`RefusedContentError`.
    """
    path = Path(path)
    with _open_checked(path, max_bytes) as handle:
        shape, _, dtype = _header(handle, path)
        if dtype.hasobject:
            if not allow_objects:
                raise RefusedContentError(f"{path} is an object array where plain numbers are expected; refused "
                                          "(nothing was run): save it as a numeric array", ["object array"], [])
            return _unpickle_objects(handle, path, shape)
        needed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if needed > path.stat().st_size:
            raise NpyReadError(f"{path} claims a {dtype} array of shape {shape} ({needed:,} bytes) but the file "
                               f"is only {path.stat().st_size:,} bytes: it is truncated; get a complete copy")
        handle.seek(0)
        try:
            return np.load(handle, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise NpyReadError(f"Cannot read {path} ({error}): the file is damaged; get a complete copy") from error
