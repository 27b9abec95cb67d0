"""A corpus of bad inputs, generated with a fixed seed, for every reader of outside files.

Each :class:`BadInput` writes one broken input into a folder and names the reader it goes
through and the documented error that reader must raise. ``tests/test_bad_input.py`` runs
every case through its reader and through the ``pointprompt`` command line; run this file to
print the summary table the README reports::

    python tests/bad_input_corpus.py
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.event_log import EventLogError  # noqa: E402
from core.io.image_datasets import DatasetError, read_category, write_category  # noqa: E402
from core.io.images import ImageReadError, read_image  # noqa: E402
from core.io.masks import MaskSizeError, read_mask  # noqa: E402
from core.io.pointprompt_results import ResultsError, ResultStep, read_image_results, write_image_results  # noqa: E402
from core.models.checkpoint import CheckpointError, load_sam  # noqa: E402
from core.prompting.session import AnnotationSession  # noqa: E402

SEED = 20261201
IMAGE_SIZE = (30, 40)  # (H, W) of the good image every mask case belongs to
HUGE = 50_000  # pixels a side claimed by the huge-header cases


@dataclass(frozen=True)
class BadInput:
    """One bad input: ``build(folder)`` writes it and returns what the reader is given."""

    name: str
    reader: str  # a key of READERS
    build: Callable[[Path], Path]
    expected: tuple[type[Exception], ...]


def _png_bytes(array: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def good_image() -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, 256, (*IMAGE_SIZE, 3), dtype=np.uint8)


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return build


def _save_npy(name: str, array) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        np.save(folder / name, array, allow_pickle=True)
        return folder / name
    return build


def _huge_png() -> bytes:
    """A PNG header claiming HUGE × HUGE RGB pixels, with one tiny data chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", HUGE, HUGE, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _huge_jpeg() -> bytes:
    """A real small JPEG whose frame header (SOF0) is edited to claim HUGE × HUGE pixels."""
    data = bytearray(_png_bytes(good_image(), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", HUGE, HUGE)
    return bytes(data)


def _huge_tiff() -> bytes:
    """An uncompressed greyscale TIFF header claiming HUGE × HUGE pixels, with 16 bytes of data."""
    entries = [(256, 4, HUGE), (257, 4, HUGE), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 10 * 12 + 4),
               (277, 3, 1), (278, 4, HUGE), (279, 4, HUGE * HUGE)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, kind, 1, value)
                                                       for tag, kind, value in entries) + struct.pack("<I", 0)
    ifd = ifd + b"\0" * (2 + 10 * 12 + 4 - len(ifd))
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0" * 16


def _huge_bmp() -> bytes:
    data = bytearray(_png_bytes(good_image(), "BMP"))
    data[18:26] = struct.pack("<ii", HUGE, HUGE)
    return bytes(data)


def _huge_npy(folder: Path) -> Path:
    path = folder / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (HUGE, HUGE, 3)})
    return path


def image_cases() -> list[BadInput]:
    """Bad image files: zero bytes, truncated, random bytes, huge headers, odd arrays."""
    rng = np.random.default_rng(SEED)
    cases = []
    for fmt, suffix in (("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif"), ("BMP", ".bmp")):
        whole = _png_bytes(good_image(), fmt)
        cases.append(BadInput(f"zero-byte {suffix}", "image", _write(f"empty{suffix}", b""), (ImageReadError,)))
        for fraction in (0.02, 0.3, 0.7, 0.98):
            cases.append(BadInput(f"{fmt} truncated to {fraction:.0%}", "image",
                                  _write(f"cut{suffix}", whole[:int(len(whole) * fraction)]), (ImageReadError,)))
        noise = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
        cases.append(BadInput(f"random bytes named {suffix}", "image", _write(f"noise{suffix}", noise), (ImageReadError,)))
        cases.append(BadInput(f"{fmt} magic, random rest", "image",
                              _write(f"magic{suffix}", whole[:8] + noise), (ImageReadError,)))
    for name, data in (("PNG", _huge_png()), ("JPEG", _huge_jpeg()), ("TIFF", _huge_tiff()), ("BMP", _huge_bmp())):
        cases.append(BadInput(f"{name} header claiming {HUGE}×{HUGE}", "image",
                              _write(f"huge.{name.lower()}", data), (ImageReadError,)))
    cases.append(BadInput(f".npy header claiming {HUGE}×{HUGE}×3", "image", _huge_npy, (ImageReadError,)))
    arrays = {"1×1 array": np.zeros((1, 1)), "0-d array": np.array(3.0), "empty array": np.zeros((0, 0)),
              "1-d array": np.zeros(10), "NaN array": np.full((8, 8), np.nan),
              "inf array": np.where(np.eye(8) > 0, np.inf, 0.0), "5-channel float array": rng.random((8, 8, 5)),
              "4-d array": np.zeros((2, 8, 8, 3)), "string array": np.array([["a", "b"], ["c", "d"]]),
              "complex array": np.ones((8, 8), np.complex64), "object array of arrays": np.array(
                  [np.zeros((8, 8)), np.zeros(3)], dtype=object)}
    for name, array in arrays.items():
        cases.append(BadInput(name, "image", _save_npy("array.npy", array), (ImageReadError,)))
    cases.append(BadInput(".npy truncated", "image", _write("cut.npy", _npy_bytes(good_image())[:300]), (ImageReadError,)))
    cases.append(BadInput(".npy random bytes", "image", _write("noise.npy", rng.bytes(500)), (ImageReadError,)))
    return cases


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def mask_cases() -> list[BadInput]:
    """Bad ground-truth masks for a 40×30 image."""
    height, width = IMAGE_SIZE
    labels = np.zeros(IMAGE_SIZE, np.uint8)
    labels[5:15, 5:20], labels[18:25, 25:35] = 1, 2
    colours = np.zeros((*IMAGE_SIZE, 3), np.uint8)
    colours[5:15, 5:20, 0], colours[18:25, 25:35, 1] = 255, 255
    arrays = {"three classes 0/1/2 (PNG)": ("m.png", labels), "0/128/255 values (PNG)": ("m.png", labels * 127),
              "colour label map (PNG)": ("m.png", colours), "wrong size (PNG)": ("m.png", labels[:20] * 255),
              "1×1 mask (PNG)": ("m.png", np.ones((1, 1), np.uint8) * 255)}
    cases = [BadInput(name, "mask", _write(file, _png_bytes(array)), (ImageReadError, MaskSizeError))
             for name, (file, array) in arrays.items()]
    npys = {"soft float mask": np.linspace(0, 1, height * width).reshape(IMAGE_SIZE),
            "NaN mask": np.full(IMAGE_SIZE, np.nan), "5-channel mask": np.zeros((*IMAGE_SIZE, 5)),
            "0-d mask": np.array(1), "transposed mask": np.zeros((width, height), np.uint8),
            "string mask": np.full(IMAGE_SIZE, "x")}
    cases += [BadInput(name, "mask", _save_npy("m.npy", array), (ImageReadError, MaskSizeError))
              for name, array in npys.items()]
    cases += [BadInput(case.name.replace(".png", " mask"), "mask", case.build, case.expected)
              for case in image_cases() if case.name.startswith(("zero-byte .png", "PNG truncated", "PNG header"))]
    return cases


def _dataset(folder: Path, layout: str) -> Path:
    images = [good_image()] * 3
    masks = [np.pad(np.ones((10, 10), np.uint8), ((5, 15), (5, 25)))] * 3
    if layout == "A":
        write_category(folder / "data", "Cat", images, masks)
    else:
        for i, (image, mask) in enumerate(zip(images, masks)):
            (folder / "data" / "samples" / "Cat").mkdir(parents=True, exist_ok=True)
            (folder / "data" / "labels" / "Cat").mkdir(parents=True, exist_ok=True)
            np.save(folder / "data" / "samples" / "Cat" / f"{i}_sample.npy", image)
            np.save(folder / "data" / "labels" / "Cat" / f"{i}_label.npy", mask)
    return folder / "data"


def _dataset_case(name: str, layout: str, change: Callable[[Path], None]) -> BadInput:
    def build(folder: Path) -> Path:
        root = _dataset(folder, layout)
        change(root)
        return root
    return BadInput(f"dataset layout {layout}: {name}", "dataset", build, (DatasetError, MaskSizeError))


def _object_array(*items) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        array[i] = item
    return array


def dataset_cases() -> list[BadInput]:
    """PointPrompt image datasets with missing, empty, damaged or mismatched files."""
    image, mask = good_image(), np.pad(np.ones((10, 10), np.uint8), ((5, 15), (5, 25)))
    a = {"samples.npy zero bytes": lambda r: (r / "Cat" / "samples.npy").write_bytes(b""),
         "samples.npy truncated": lambda r: (r / "Cat" / "samples.npy").write_bytes(
             (r / "Cat" / "samples.npy").read_bytes()[:200]),
         "labels.npy random bytes": lambda r: (r / "Cat" / "labels.npy").write_bytes(
             np.random.default_rng(SEED).bytes(300)),
         "fewer labels than samples": lambda r: np.save(r / "Cat" / "labels.npy", _object_array(mask), allow_pickle=True),
         "a mask of the wrong size": lambda r: np.save(r / "Cat" / "labels.npy", _object_array(
             mask, mask[:10], mask), allow_pickle=True),
         "a 5-channel image": lambda r: np.save(r / "Cat" / "samples.npy", _object_array(
             image, np.zeros((30, 40, 5)), image), allow_pickle=True),
         "a ragged list as an image": lambda r: np.save(r / "Cat" / "samples.npy", _object_array(
             image, [[1, 2], [3]], image), allow_pickle=True),
         "samples.npy a 2-d numeric array": lambda r: np.save(r / "Cat" / "samples.npy", np.zeros((3, 3))),
         "a NaN image": lambda r: np.save(r / "Cat" / "samples.npy", _object_array(
             image, np.full((30, 40), np.nan), image), allow_pickle=True),
         "a 3-class mask": lambda r: np.save(r / "Cat" / "labels.npy", _object_array(
             mask, mask * 2 + np.eye(30, 40, dtype=np.uint8), mask), allow_pickle=True)}
    b = {"a sample file zero bytes": lambda r: (r / "samples" / "Cat" / "1_sample.npy").write_bytes(b""),
         "a label file truncated": lambda r: (r / "labels" / "Cat" / "2_label.npy").write_bytes(
             (r / "labels" / "Cat" / "2_label.npy").read_bytes()[:150]),
         "a label of the wrong size": lambda r: np.save(r / "labels" / "Cat" / "0_label.npy", mask[:, :20]),
         "a 1×1 sample": lambda r: np.save(r / "samples" / "Cat" / "1_sample.npy", np.zeros((1, 1))),
         "a 0-d sample": lambda r: np.save(r / "samples" / "Cat" / "1_sample.npy", np.array(5))}
    cases = [_dataset_case(name, "A", change) for name, change in a.items()]
    cases += [_dataset_case(name, "B", change) for name, change in b.items()]
    cases.append(BadInput("dataset: no such category", "dataset", lambda folder: folder, (DatasetError,)))
    return cases


def _results(folder: Path) -> Path:
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:6] = True
    steps = [ResultStep(0, np.array([[1, 1]]), np.array([[5, 5]]), 0.5, mask),
             ResultStep(0, np.array([[1, 1], [2, 3]]), np.array([[5, 5]]), 0.7, mask),
             ResultStep(1, np.array([[3, 3]]), np.array([[6, 1]]), 0.6, mask)]
    write_image_results(folder / "Cat" / "st1", 0, steps)
    return folder / "Cat" / "st1"


def _results_case(name: str, change: Callable[[Path], None]) -> BadInput:
    def build(folder: Path) -> Path:
        annotator = _results(folder)
        change(annotator)
        return annotator
    return BadInput(f"results: {name}", "results", build, (ResultsError,))


def results_cases() -> list[BadInput]:
    """Prompting-results folders with missing, extra, empty or mismatched files."""
    files = ["eachround/0_.npy", "points/0_green.npy", "points/0_red.npy", "scores/0score.npy"]
    cases = [_results_case(f"{file} missing", lambda f, file=file: (f / file).unlink()) for file in files]
    cases += [_results_case(f"{file} zero bytes", lambda f, file=file: (f / file).write_bytes(b""))
              for file in files + ["sorts/0_sort.npy"]]
    changes = {
        "a mask PNG missing": lambda f: (f / "masks" / "0_1_mask.png").unlink(),
        "a mask PNG of random bytes": lambda f: (f / "masks" / "0_2_mask.png").write_bytes(b"\x89PNG" + bytes(50)),
        "a mask PNG with three values": lambda f: (f / "masks" / "0_0_mask.png").write_bytes(
            _png_bytes(np.arange(48, dtype=np.uint8).reshape(6, 8) % 3)),
        "an extra mask for a 4th timestep": lambda f: (f / "masks" / "0_3_mask.png").write_bytes(
            (f / "masks" / "0_0_mask.png").read_bytes()),
        "scores one timestep short": lambda f: np.save(f / "scores" / "0score.npy", np.array([0.5, 0.7])),
        "no timesteps at all": lambda f: [np.save(f / p, np.zeros(0)) for p in ("eachround/0_.npy", "scores/0score.npy")]
        and [np.save(f / p, np.empty(0, dtype=object), allow_pickle=True) for p in ("points/0_green.npy", "points/0_red.npy")],
        "points of shape (n, 3)": lambda f: np.save(f / "points" / "0_green.npy", _object_array(
            np.zeros((1, 3)), np.zeros((2, 3)), np.zeros((1, 3))), allow_pickle=True),
        "NaN point coordinates": lambda f: np.save(f / "points" / "0_red.npy", _object_array(
            np.array([[np.nan, 1.0]]), np.array([[5, 5]]), np.array([[6, 1]])), allow_pickle=True),
        "string scores": lambda f: np.save(f / "scores" / "0score.npy", np.array(["a", "b", "c"])),
        "NaN rounds": lambda f: np.save(f / "eachround" / "0_.npy", np.array([0, np.nan, 1])),
        "sorts not an order of the timesteps": lambda f: np.save(f / "sorts" / "0_sort.npy", np.array([0, 0, 7])),
        "eachround an object array": lambda f: np.save(f / "eachround" / "0_.npy", _object_array(0, 0, 1),
                                                       allow_pickle=True),
    }
    cases += [_results_case(name, change) for name, change in changes.items()]
    return cases


@lru_cache(maxsize=1)
def _tiny_state_bytes() -> bytes:
    import torch

    from core.models.sam_architecture import TINY_ARCHITECTURE, build_sam

    torch.manual_seed(SEED % 2**31)
    buffer = io.BytesIO()
    torch.save(build_sam(TINY_ARCHITECTURE).state_dict(), buffer)
    return buffer.getvalue()


def _torch_file(name: str, make: Callable[[], object]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        import torch

        torch.save(make(), folder / name)
        return folder / name
    return build


def checkpoint_cases() -> list[BadInput]:
    """Checkpoints that are truncated, random, foreign, or hold NaN weights."""
    import torch

    whole = _tiny_state_bytes()

    def tiny_state():
        return torch.load(io.BytesIO(whole), weights_only=True)

    def with_nan():
        state = tiny_state()
        state["mask_decoder.iou_token.weight"][0, 0] = float("nan")
        return state

    def with_inf():
        state = tiny_state()
        state["prompt_encoder.point_embeddings.0.weight"][0, 1] = float("inf")
        return state

    def resized():
        state = tiny_state()
        state["mask_decoder.iou_token.weight"] = torch.zeros(2, 3)
        return state

    rng = np.random.default_rng(SEED)
    cases = [BadInput("checkpoint zero bytes", "checkpoint", _write("empty.pth", b""), (CheckpointError,))]
    cases += [BadInput(f"checkpoint truncated to {f:.0%}", "checkpoint", _write("cut.pth", whole[:int(len(whole) * f)]),
                       (CheckpointError,)) for f in (0.01, 0.5, 0.99)]
    cases += [BadInput("checkpoint of random bytes", "checkpoint", _write("noise.pth", rng.bytes(4096)), (CheckpointError,)),
              BadInput("a foreign state dict (a conv layer)", "checkpoint",
                       _torch_file("conv.pth", lambda: torch.nn.Conv2d(3, 8, 3).state_dict()), (CheckpointError,)),
              BadInput("a state dict with NaN weights", "checkpoint", _torch_file("nan.pth", with_nan), (CheckpointError,)),
              BadInput("a state dict with infinite weights", "checkpoint", _torch_file("inf.pth", with_inf),
                       (CheckpointError,)),
              BadInput("a SAM state dict with a resized tensor", "checkpoint", _torch_file("resized.pth", resized),
                       (CheckpointError,)),
              BadInput("an empty state dict", "checkpoint", _torch_file("empty_dict.pth", dict), (CheckpointError,)),
              BadInput("a list, not a state dict", "checkpoint", _torch_file("list.pth", lambda: [1, 2]),
                       (CheckpointError,)),
              BadInput("safetensors of random bytes", "checkpoint",
                       _write("noise.safetensors", rng.bytes(2048)), (CheckpointError,)),
              BadInput("a PNG named .pth", "checkpoint", _write("image.pth", _png_bytes(good_image())),
                       (CheckpointError,))]
    return cases


def _session_case(name: str, lines: bytes) -> BadInput:
    def build(folder: Path) -> Path:
        session = folder / "sessions" / "st1"
        session.mkdir(parents=True)
        (session / "events.jsonl").write_bytes(lines)
        return session
    return BadInput(f"session log: {name}", "session", build, (EventLogError,))


def session_cases() -> list[BadInput]:
    """Event logs (events.jsonl) that are damaged, foreign or edited by hand."""
    start = json.dumps({"seq": 0, "t": 1.0, "event": "session", "action": "start", "annotator": "st1"}).encode()
    opened = json.dumps({"seq": 1, "t": 2.0, "event": "open", "image": "a/0"}).encode()
    rng = np.random.default_rng(SEED)
    bodies = {"random bytes": rng.bytes(3000) + b"\n" + rng.bytes(100),
              "a line that is not JSON": start + b"\n{not json\n" + opened + b"\n",
              "a line that is not UTF-8": start + b"\n\xff\xfe\xfa\n" + opened + b"\n",
              "a JSON list, not an event": start + b"\n[1, 2, 3]\n",
              "an event without a name": start + b'\n{"seq": 1, "t": 2.0}\n',
              "an unknown event kind": start + b'\n{"seq": 1, "t": 2.0, "event": "explode", "image": "a/0"}\n',
              "a timestep missing its fields": start + b"\n" + opened + b'\n{"seq": 2, "t": 3.0, "event": "timestep", '
                                                                      b'"image": "a/0"}\n',
              "a choice of a timestep that does not exist": start + b"\n" + opened + b'\n{"seq": 2, "t": 3.0, '
                                                                                   b'"event": "choose", "image": "a/0", '
                                                                                   b'"index": 5, "chosen": 1}\n',
              "an edit with malformed prompts": start + b"\n" + opened + b'\n{"seq": 2, "t": 3.0, "event": "edit", '
                                                                       b'"image": "a/0", "prompts": "lots"}\n',
              "a close with a text time": start + b"\n" + opened + b'\n{"seq": 2, "t": "noon", "event": "close", '
                                                                  b'"image": "a/0"}\n'}
    return [_session_case(name, body) for name, body in bodies.items()]


def corpus() -> list[BadInput]:
    return image_cases() + mask_cases() + dataset_cases() + results_cases() + checkpoint_cases() + session_cases()


def _read_results(folder: Path) -> None:
    results = read_image_results(folder, 0)
    for t in range(len(results)):
        results.mask(t)


READERS: dict[str, Callable[[Path], object]] = {
    "image": read_image,
    "mask": lambda path: read_mask(path, IMAGE_SIZE),
    "dataset": lambda root: read_category(root, "Cat"),
    "results": _read_results,
    "checkpoint": load_sam,
    "session": AnnotationSession.load,
}


def outcome(case: BadInput, folder: Path) -> tuple[str, str]:
    """("documented", message), ("accepted", "") or ("crash", what was raised) for one case."""
    target = case.build(folder)
    try:
        READERS[case.reader](target)
    except case.expected as error:
        return "documented", str(error)
    except Exception as error:  # noqa: BLE001 -- a crash is what this corpus looks for
        return "crash", f"{type(error).__name__}: {error}"
    return "accepted", ""


def main() -> int:
    import tempfile

    tally: dict[str, dict[str, int]] = {}
    crashes = []
    for i, case in enumerate(corpus()):
        with tempfile.TemporaryDirectory() as folder:
            kind, message = outcome(case, Path(folder))
        tally.setdefault(case.reader, {"documented": 0, "accepted": 0, "crash": 0})[kind] += 1
        if kind != "documented":
            crashes.append(f"{case.name}: {kind} {message}")
    print("| reader | inputs tried | documented error | accepted silently | other exception (crash) |")
    print("|---|---|---|---|---|")
    for reader, counts in tally.items():
        print(f"| {reader} | {sum(counts.values())} | {counts['documented']} | {counts['accepted']} | {counts['crash']} |")
    print("\n".join(crashes))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
