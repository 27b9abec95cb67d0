"""Load SAM checkpoints (official ViT-H/L/B or our tiny model) with errors a user can act on.

Weights come from ``.pth`` / ``.pt`` files read with ``torch.load(weights_only=True)`` (no code
in the file runs) or ``.safetensors`` files (the safetensors library: tensors only, no pickle).
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from segment_anything.modeling import Sam

from core.paths import TINY_SAM_PATH
from core.models.sam_architecture import (
    KNOWN_ARCHITECTURES,
    ArchitectureNotRecognised,
    SamArchitecture,
    architecture_from_state_dict,
    build_sam,
)


_FIX = ("Give the path to an official Segment Anything checkpoint (sam_vit_h_4b8939.pth, "
        "sam_vit_l_0b3195.pth or sam_vit_b_01ec64.pth) or choose the shipped tiny model.")


class CheckpointError(Exception):
    """A SAM checkpoint could not be used; the message names the file and what to do."""


@dataclass(frozen=True)
class ModelIdentity:
    """What a loaded model is: its variant name, a content hash of its weights and the file."""

    variant: str
    weights_sha256: str
    path: str

    @property
    def key(self) -> str:
        """A short stable identity for cache keys and logs, e.g. ``vit_b-01ec64a1b2c3``."""
        return f"{self.variant}-{self.weights_sha256[:12]}"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_weights(path: Path) -> object:
    """What ``path`` holds: a safetensors file (by suffix or by its JSON header after the 8-byte
    length), else a weights-only torch file (a zip, or a legacy pickle)."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return safetensors.torch.load_file(path, device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def read_state_dict(path: str | Path, fix: str = _FIX, noun: str = "Checkpoint") -> dict[str, torch.Tensor]:
    """Read a state dict from ``path``: ``.safetensors``, or ``torch.load(weights_only=True)``.

    Accepts a plain state dict or one wrapped as ``{"model": ...}`` / ``{"state_dict": ...}``.
    Raises :class:`CheckpointError` for a missing, unreadable, truncated or non-dict file, and
    for weights that hold NaN or infinite values (naming the first such tensor). ``noun`` names
    the file in messages and ``fix`` is the advice they end with (defaults: a SAM checkpoint;
    the classifier loader passes its own).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{noun} not found: {path}. {fix}")
    try:
        loaded = _read_weights(path)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            safetensors.SafetensorError) as error:
        raise CheckpointError(
            f"Cannot read {noun.lower()} {path}: the file is truncated, corrupt or not a PyTorch or safetensors file "
            f"({type(error).__name__}: {str(error)[:200]}). Download it again or choose another file."
        ) from error
    for wrapper in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict) or not loaded or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise CheckpointError(f"{noun} {path} does not hold a state dict of tensors. {fix}")
    for name, tensor in loaded.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{noun} {path} holds NaN or infinite weights (first in {name}): the model "
                                  f"diverged in training or the file is damaged. Choose another {noun.lower()}.")
    return loaded


def detect_architecture(state: dict[str, torch.Tensor], path: str | Path) -> SamArchitecture:
    """The architecture of a SAM state dict; :class:`CheckpointError` naming ``path`` if it is none."""
    try:
        return architecture_from_state_dict(state)
    except ArchitectureNotRecognised as error:
        sample = ", ".join(list(state)[:4])
        raise CheckpointError(
            f"Checkpoint {path} is not a Segment Anything model ({error}; its first keys are "
            f"{sample or 'none'}). {_FIX}"
        ) from error


def load_sam(path: str | Path, expected_variant: str | None = None) -> tuple[Sam, ModelIdentity]:
    """Build and load a SAM from a checkpoint, detecting its variant from the tensor shapes.

    expected_variant: "vit_h", "vit_l", "vit_b" or "tiny" to insist on one; None accepts any.
    Returns the eval-mode model on the CPU and its :class:`ModelIdentity`.
    Raises :class:`CheckpointError` with the file name and the fix for every failure.
    """
    path = Path(path)
    state = read_state_dict(path)
    arch = detect_architecture(state, path)
    if expected_variant is not None and arch.name != expected_variant:
        if expected_variant not in KNOWN_ARCHITECTURES:
            raise CheckpointError(f"Unknown SAM variant {expected_variant!r}; use one of {sorted(KNOWN_ARCHITECTURES)}.")
        raise CheckpointError(
            f"Checkpoint {path} holds a {arch.name} model (image encoder width {arch.encoder_embed_dim}, "
            f"{arch.encoder_depth} blocks) but {expected_variant} was asked for. Choose the {arch.name} "
            f"variant or the {expected_variant} file."
        )
    sam = build_sam(arch)
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"Checkpoint {path} looks like {arch.name} but its tensors do not fit that model: "
            f"{str(error)[:400]}. The file may be from a modified SAM; {_FIX}"
        ) from error
    return sam.eval(), ModelIdentity(arch.name, file_sha256(path), str(path))


def load_tiny_sam() -> tuple[Sam, ModelIdentity]:
    """The shipped tiny SAM from resources/models/tiny_sam.pth."""
    if not TINY_SAM_PATH.is_file():
        raise CheckpointError(
            f"The shipped tiny SAM is missing at {TINY_SAM_PATH}. Restore it from the repository "
            f"(git checkout resources/) or retrain it: python packaging/train_tiny_sam.py"
        )
    return load_sam(TINY_SAM_PATH, expected_variant="tiny")
