"""torchvision classification architectures by name: built without weights (nothing is ever
downloaded), their head sized from a user's state dict, their CAM target layer and input size.

Target layers follow pytorch-grad-cam's advice: the output of the last feature stage, i.e. the
(B, K, h, w) activations the global pool sees (ResNet ``layer4``, VGG / DenseNet / MobileNet /
EfficientNet / ConvNeXt ``features``, RegNet ``trunk_output``, ...), rather than the last
``Conv2d`` inside a block (before its normalisation and residual sum). For a ResNet this A is
exactly what the average pool and linear head read, so the closed-form contrast weights apply.
ViT: the input of the last encoder block's attention, ``encoder.layers[-1].ln_1``: (B, 1 + h·w,
K) tokens, reshaped to (B, K, h, w) after dropping the class token (the last block's output
tokens other than the class token do not reach the head, so their gradients are zero). Swin:
the final norm, (B, h, w, K) → (B, K, h, w).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models

from core.models.classifier import swin_reshape, vit_reshape

KNOWN_ARCHITECTURES: tuple[str, ...] = tuple(sorted(models.list_models(module=models)))

_PROBE_CLASSES = 7919  # a prime no real layer width equals: the head is the layer that has it

# the module (attribute of the model) whose output is the last feature stage
_FEATURE_STAGE: tuple[tuple[type, str], ...] = (
    (models.ResNet, "layer4"),
    (models.RegNet, "trunk_output"),
    (models.ShuffleNetV2, "conv5"),
    (models.GoogLeNet, "inception5b"),
    (models.Inception3, "Mixed_7c"),
    (models.MNASNet, "layers"),
    (models.MaxVit, "blocks"),
    (models.VGG, "features"),
    (models.AlexNet, "features"),
    (models.DenseNet, "features"),
    (models.MobileNetV2, "features"),
    (models.MobileNetV3, "features"),
    (models.EfficientNet, "features"),
    (models.ConvNeXt, "features"),
    (models.SqueezeNet, "features"),
)


def architecture_kwargs(name: str, state: dict[str, torch.Tensor]) -> dict[str, object]:
    """Builder arguments read from the weights: a ViT's input size from its position embedding
    ((1, 1 + (S/p)², K) → S), no auxiliary heads for GoogLeNet / Inception v3 unless the file
    has them (and no weight initialisation warning for either)."""
    kwargs: dict[str, object] = {}
    if name.startswith("vit_") and "encoder.pos_embedding" in state:
        patch = int(name.rsplit("_", 1)[1])
        grid = round((state["encoder.pos_embedding"].shape[1] - 1) ** 0.5)
        kwargs["image_size"] = grid * patch
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = any(key.startswith(("aux1.", "aux2.", "AuxLogits.")) for key in state)
        kwargs["init_weights"] = False
    return kwargs


def builder_for(name: str, state: dict[str, torch.Tensor]) -> Callable[[int], nn.Module]:
    """A function num_classes → the torchvision model ``name`` with random weights
    (``weights=None``), its other arguments read from ``state``. ``name`` must be known."""
    kwargs = architecture_kwargs(name, state)

    def build(num_classes: int) -> nn.Module:
        return models.get_model(name, weights=None, num_classes=num_classes, **kwargs)

    return build


def head_name(build: Callable[[int], nn.Module]) -> str | None:
    """The qualified name of the classification head (the last layer with one output per class),
    found by building the model with a probe class count on the meta device (no memory, no
    initialisation cost; on the CPU for the few models that cannot be built there); None when
    no Linear or Conv2d has it."""
    try:
        with torch.device("meta"):
            probe = build(_PROBE_CLASSES)
    except (NotImplementedError, RuntimeError):  # RegNet computes its widths from tensor data
        probe = build(_PROBE_CLASSES)
    found = None
    for name, module in probe.named_modules():
        if isinstance(module, nn.Linear) and module.out_features == _PROBE_CLASSES:
            found = name
        elif isinstance(module, nn.Conv2d) and module.out_channels == _PROBE_CLASSES:
            found = name
    return found


def cam_target(model: nn.Module) -> tuple[nn.Module | None, Callable[[torch.Tensor], torch.Tensor] | None]:
    """(target layer, reshape) for the CAM family; (None, None) for a model this module does not
    know (the record then falls back to its last Conv2d)."""
    if isinstance(model, models.VisionTransformer):
        grid = model.image_size // model.patch_size
        return model.encoder.layers[-1].ln_1, vit_reshape((grid, grid), prefix_tokens=1)
    if isinstance(model, models.SwinTransformer):
        return model.norm, swin_reshape
    for kind, attribute in _FEATURE_STAGE:
        if isinstance(model, kind):
            stage = getattr(model, attribute)
            return (stage[-1] if isinstance(stage, nn.ModuleList) else stage), None
    return None, None


def default_input_size(model: nn.Module) -> int:
    """The side a model was designed for: a ViT's own ``image_size``, 299 for Inception v3,
    else 224 (ImageNet's)."""
    if isinstance(model, models.VisionTransformer):
        return int(model.image_size)
    if isinstance(model, models.Inception3):
        return 299
    return 224
