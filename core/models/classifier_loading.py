"""Load an image classifier into a :class:`ClassifierRecord`: a torchvision architecture with
a user's weights, a TorchScript file, or the shipped demo classifier.

    load_classifier("demo")
    load_classifier("resnet50", "my_resnet50.pth", class_names="classes.txt")
    load_classifier("vit_b_16", "vit.safetensors")
    load_classifier("exported_model.pt")                    # TorchScript
    load_classifier("model.pt", preprocessing=Preprocessing(size=128, mean=(0.5,) * 3, std=(0.5,) * 3))

Nothing is downloaded: torchvision models are built with ``weights=None`` and take the user's
state dict (``.pth`` / ``.pt`` read with ``torch.load(weights_only=True)``, or ``.safetensors``;
no code in the file runs); the class count comes from the weights' head. Every model is checked
with one dummy forward pass of a (2, 3, S, S) batch at load: it must accept S × S inputs and
return (B, C) logits. Every failure raises :class:`ClassifierError` naming the file and the fix.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from core.models.checkpoint import CheckpointError, read_state_dict
from core.models.class_names import resolve_class_names
from core.models.classifier import ClassifierError, ClassifierRecord, Preprocessing
from core.models.demo_classifier import DEMO_CLASSIFIER_PATH, DemoClassifierMetadata, DemoClassifierNet, metadata_path
from core.models.torchvision_classifiers import (
    KNOWN_ARCHITECTURES,
    builder_for,
    cam_target,
    default_input_size,
    head_name,
)

DEMO = "demo"
_WEIGHTS_FIX = ("Give a state dict saved with torch.save(model.state_dict(), path) or safetensors, for the "
                "architecture you name.")
_PICKLED = ("Weights file {path} holds Python objects besides tensors (a whole pickled model, saved with "
            "torch.save(model, path)?), which are never unpickled: loading them could run any code. Save "
            "model.state_dict() instead, or export TorchScript with torch.jit.script(model).save(path).")

ClassNames = str | Path | Sequence[str] | None


def load_classifier(
    source: str | Path,
    weights: str | Path | None = None,
    *,
    class_names: ClassNames = None,
    preprocessing: Preprocessing | None = None,
    device: str | torch.device = "cpu",
) -> ClassifierRecord:
    """Load a classifier; see the module docstring for examples.

    source: "demo" (the shipped demo classifier); a torchvision architecture name (one of
    ``KNOWN_ARCHITECTURES``, with ``weights``); or the path of a TorchScript file (without
    ``weights``). class_names: a JSON / text file, a list, or None for "class 0", "class 1", ...
    preprocessing: None for the model's default (ImageNet normalisation at 224 px, a ViT's own
    size; the demo classifier's own), or your own. Returns an eval-mode record on ``device``.
    """
    if str(source) == DEMO:
        if weights is not None or class_names is not None:
            raise ClassifierError("The demo classifier comes with its own weights and class names; give neither.")
        return load_demo_classifier(preprocessing=preprocessing, device=device)
    if weights is not None:
        return load_torchvision_classifier(str(source), weights, class_names=class_names,
                                           preprocessing=preprocessing, device=device)
    if str(source) in KNOWN_ARCHITECTURES:
        raise ClassifierError(f"{source} needs weights: give the file of its trained weights (weights=FILE). "
                              "Pretrained weights are never downloaded.")
    return load_torchscript_classifier(source, class_names=class_names, preprocessing=preprocessing, device=device)


def load_torchvision_classifier(
    architecture: str | Callable[[int], nn.Module],
    weights: str | Path,
    *,
    class_names: ClassNames = None,
    preprocessing: Preprocessing | None = None,
    device: str | torch.device = "cpu",
) -> ClassifierRecord:
    """A torchvision model built with ``weights=None`` and loaded with a user's state dict.

    architecture: a torchvision name (``KNOWN_ARCHITECTURES``: resnet18, vgg16, vit_b_16,
    swin_t, ...), or a function num_classes → nn.Module for a model of your own (e.g. a
    torchvision ``VisionTransformer`` of another size). The number of classes is read from the
    weights' head; a ViT's input size from its position embedding. A "module." prefix on every
    key (DataParallel) is removed. The target layer and reshape for the CAM family are set for
    torchvision CNNs, ViT and Swin (:func:`core.models.torchvision_classifiers.cam_target`).
    """
    path = Path(weights)
    if isinstance(architecture, str) and architecture not in KNOWN_ARCHITECTURES:
        raise ClassifierError(f"Unknown architecture {architecture!r} for weights {path}. Known torchvision "
                              f"architectures: {', '.join(KNOWN_ARCHITECTURES)}. For a TorchScript file give no "
                              "architecture.")
    state = _read_weights(path)
    if isinstance(architecture, str):
        label, build = architecture, builder_for(architecture, state)
    else:
        label, build = getattr(architecture, "__name__", "the given architecture"), architecture
    head = head_name(build)
    if head is None or f"{head}.weight" not in state:
        num_classes = 1000  # let the comparison below say what does not fit
    else:
        num_classes = int(state[f"{head}.weight"].shape[0])
    model = build(num_classes)
    _load_weights(model, state, path, label)
    target_layer, reshape = cam_target(model)
    record = ClassifierRecord(
        model=model.eval(), class_names=[],
        preprocessing=preprocessing or Preprocessing(size=default_input_size(model)),
        target_layer=target_layer, reshape=reshape, name=f"{label} ({path.name})", source=str(path),
    )
    return _finish(record, class_names, device, path)


def load_torchscript_classifier(
    path: str | Path,
    *,
    class_names: ClassNames = None,
    preprocessing: Preprocessing | None = None,
    device: str | torch.device = "cpu",
) -> ClassifierRecord:
    """A TorchScript classifier (``torch.jit.script(model).save(path)`` or ``torch.jit.trace``),
    loaded with ``torch.jit.load`` on the CPU.

    Safety: loading TorchScript runs the file's own TorchScript model code (its forward, in
    TorchScript's restricted language) but no Python pickle: nothing in the file can call
    arbitrary Python. The class count comes from the dummy forward; preprocessing defaults to
    ImageNet's at 224 px. PyTorch cannot hook layers inside a TorchScript graph, so the record
    has no target layer: TorchScript classifiers give output-based trust scores and input
    gradients; CAM maps and head-gradient scores need the architecture and a state dict.
    """
    path = Path(path)
    _check_torchscript_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
            model = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, OSError, ValueError) as error:
        raise ClassifierError(f"Cannot load TorchScript file {path}: it is truncated or corrupt "
                              f"({_brief(error)}). Export it again with "
                              "torch.jit.script(model).save(path).") from error
    record = ClassifierRecord(model=model.eval(), class_names=[], preprocessing=preprocessing or Preprocessing(),
                              name=f"TorchScript ({path.name})", source=str(path))
    return _finish(record, class_names, device, path)


def load_demo_classifier(
    preprocessing: Preprocessing | None = None,
    device: str | torch.device = "cpu",
    path: Path = DEMO_CLASSIFIER_PATH,
) -> ClassifierRecord:
    """The shipped demo classifier (core.models.demo_classifier) with its class names and
    preprocessing from the metadata JSON beside its weights."""
    meta_file = metadata_path(path)
    if not path.is_file() or not meta_file.is_file():
        raise ClassifierError(f"The shipped demo classifier is missing at {path if not path.is_file() else meta_file}. "
                              "Restore it from the repository (git checkout resources/) or retrain it: "
                              "nice -n 10 python packaging/train_demo_classifier.py")
    try:
        meta = DemoClassifierMetadata.from_json(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ClassifierError(f"The demo classifier's metadata {meta_file} is damaged ({error}). Restore it from "
                              "the repository or retrain: python packaging/train_demo_classifier.py") from error
    model = DemoClassifierNet(len(meta.class_names))
    _load_weights(model, _read_weights(path), path, "the demo classifier")
    record = ClassifierRecord(
        model=model.eval(), class_names=[],
        preprocessing=preprocessing or Preprocessing(size=meta.size, mean=meta.mean, std=meta.std),
        target_layer=model.features, name="demo classifier (procedural shapes)", source=DEMO,
    )
    return _finish(record, meta.class_names, device, path)


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, "module." prefixes removed; ClassifierError naming the file."""
    try:
        state = read_state_dict(path, fix=_WEIGHTS_FIX, noun="Weights file")
    except CheckpointError as error:
        cause = error.__cause__
        if isinstance(cause, pickle.UnpicklingError) and "Unsupported global" in str(cause):
            raise ClassifierError(_PICKLED.format(path=path)) from error
        raise ClassifierError(str(error)) from error
    if all(key.startswith("module.") for key in state):
        state = {key[len("module."):]: value for key, value in state.items()}
    return state


def _brief(error: BaseException) -> str:
    """The error's type and the last line of its message (TorchScript puts its traceback first)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1][:200] if lines else ''}"


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(str(size) for size in tensor.shape) + ")"


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path, label: str) -> None:
    """Copy ``state`` into ``model`` strictly; ClassifierError naming the first tensors that do
    not fit (wrong shape, missing, unexpected). Missing BatchNorm ``num_batches_tracked``
    counters (unused at inference) are allowed."""
    expected = model.state_dict()
    wrong = [f"{key} is {_shape(state[key])} in the file but {_shape(expected[key])} in {label}"
             for key in expected if key in state and state[key].shape != expected[key].shape]
    missing = [key for key in expected if key not in state and not key.endswith("num_batches_tracked")]
    unexpected = [key for key in state if key not in expected]
    if wrong or missing or unexpected:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} tensors have other shapes, first: {'; '.join(wrong[:3])}")
        if missing:
            parts.append(f"{len(missing)} tensors of {label} are missing from the file, first: "
                         f"{', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} tensors in the file are not in {label}, first: "
                         f"{', '.join(unexpected[:3])}")
        raise ClassifierError(f"Weights {path} do not fit {label}: {'. '.join(parts)}. Check that you named the "
                              "architecture these weights were trained with.")
    model.load_state_dict({key: state[key] for key in expected if key in state}, strict=False)


def _check_torchscript_file(path: Path) -> None:
    """ClassifierError unless ``path`` is a zip archive holding TorchScript code."""
    if not path.is_file():
        raise ClassifierError(f"Classifier file not found: {path}. Give a TorchScript file, a torchvision "
                              f"architecture name with weights=FILE, or {DEMO!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        with open(path, "rb") as handle:
            head = handle.read(9)
        if head[8:9] == b"{":
            raise ClassifierError(f"{path} is a safetensors weights file, not a TorchScript model: name the "
                                  "architecture too (load_classifier('resnet18', weights=path)).") from error
        raise ClassifierError(f"Cannot load TorchScript file {path}: it is truncated, corrupt or not a TorchScript "
                              f"file ({type(error).__name__}). Export it again with "
                              "torch.jit.script(model).save(path).") from error
    if not any("/code/" in name for name in names):
        raise ClassifierError(f"{path} holds weights or a pickled object, not a TorchScript model. For a state dict "
                              "name the architecture too (load_classifier('resnet18', weights=path)); or export "
                              "TorchScript with torch.jit.script(model).save(path).")


def _finish(record: ClassifierRecord, class_names: ClassNames, device: str | torch.device,
            path: Path) -> ClassifierRecord:
    """Move to ``device``, check with one dummy forward, set the class names."""
    record.device = torch.device(device)
    record.model = record.model.to(record.device).eval()
    num_classes = check_forward(record.model, record.preprocessing.size, record.device, path)
    record.class_names = resolve_class_names(class_names, num_classes, str(path))
    return record


def check_forward(model: nn.Module, size: int, device: torch.device, path: str | Path) -> int:
    """Run ``model`` once on a (2, 3, size, size) batch (zeros: the mean image) and return its
    class count C. ClassifierError naming ``path`` when it cannot take that input size, or does
    not return a float (2, C) tensor of logits with C ≥ 2 (softmax probabilities are refused)."""
    try:
        with torch.no_grad():
            output = model(torch.zeros(2, 3, size, size, device=device))
    except (RuntimeError, AssertionError, ValueError, TypeError, IndexError) as error:
        wants = getattr(model, "image_size", None)
        need = f"; it takes {wants}×{wants} inputs: set the input size to {wants}" if isinstance(wants, int) else (
            ": set the input size it was trained with (Preprocessing(size=...))")
        raise ClassifierError(f"The model in {path} cannot take {size}×{size} inputs ({_brief(error)}){need}.") \
            from error
    if not isinstance(output, torch.Tensor):
        raise ClassifierError(f"The model in {path} returns a {type(output).__name__}, not a (B, C) tensor of "
                              "logits. Export a model whose forward returns only the class logits.")
    if output.ndim != 2 or output.shape[0] != 2 or not output.is_floating_point():
        raise ClassifierError(f"The model in {path} returns a {output.dtype} tensor of shape {_shape(output)} for a "
                              "batch of 2 images, not (B, C) logits: it is not an image classifier, or its head is "
                              "missing. Export a model that ends in its classification layer.")
    if output.shape[1] < 2:
        raise ClassifierError(f"The model in {path} returns {output.shape[1]} output per image; the trust tools need "
                              "C ≥ 2 logits (for a binary classifier with one logit z, return (0, z)).")
    sums = output.sum(1)
    if bool((output >= 0).all() and (output <= 1).all() and torch.allclose(sums, torch.ones_like(sums), atol=1e-4)):
        raise ClassifierError(f"The model in {path} returns probabilities (every row sums to 1), not logits. "
                              "Export it without its final softmax.")
    return int(output.shape[1])
