"""Choosing where models run (CUDA, then Apple MPS, then CPU) and at what precision."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

PRECISIONS = ("fp32", "bf16", "fp16")


class DeviceError(ValueError):
    """A device or precision that this machine cannot provide; the message says what it has."""


def available_devices() -> list[str]:
    """Device names usable here, best first, e.g. ``["cuda", "cpu"]``."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def select_device(preference: str | None = "auto") -> torch.device:
    """``"auto"``/None picks CUDA, then MPS, then CPU; a name ("cuda", "cuda:1", "mps", "cpu")
    overrides. Raises :class:`DeviceError` for a device this machine lacks."""
    if preference in (None, "", "auto"):
        return torch.device(available_devices()[0])
    device = torch.device(preference)
    if device.type not in available_devices():
        raise DeviceError(f"Device {preference!r} is not available here; available: {', '.join(available_devices())}.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"Device {preference!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s).")
    return device


def effective_precision(device: torch.device, precision: str) -> str:
    """The precision actually used: bf16/fp16 autocast only on CUDA, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise DeviceError(f"Unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}.")
    return precision if device.type == "cuda" else "fp32"


def autocast(device: torch.device, precision: str) -> ContextManager:
    """An autocast context for the image encoder at ``effective_precision(device, precision)``."""
    used = effective_precision(device, precision)
    if used == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if used == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def device_description(device: torch.device) -> str:
    """A human-readable device name, e.g. ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)
