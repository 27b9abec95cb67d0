"""An image classifier and everything needed to run it on an image: the classifier record.

Coordinates and shapes: images are (H, W, 3) uint8 RGB; model inputs (B, 3, S, S) float32.
Preprocessing resizes the *whole* image to S × S (never crops), so every map computed on the
input grid maps back to the image pixel for pixel by resizing to (H, W).

Loading (torchvision architectures by name with a user's weights, TorchScript files, the
shipped demo classifier) lives in :mod:`core.models.classifier_loading`; the explanation and
trust code (core.gradients) only needs what is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ClassifierError(Exception):
    """A classifier could not be loaded or run; the message names the file or input and the fix."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model's input: resized whole to ``size`` × ``size`` (bilinear,
    area when shrinking), scaled to [0, 1], normalised by ``mean`` / ``std`` per RGB channel."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_tensor(self, images: np.ndarray | list[np.ndarray], device: torch.device | str = "cpu") -> torch.Tensor:
        """(H, W, 3) uint8 RGB image, or a list of them (any sizes) → (B, 3, S, S) float32."""
        images = [images] if isinstance(images, np.ndarray) else list(images)
        batch = np.empty((len(images), self.size, self.size, 3), np.float32)
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ClassifierError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}; "
                                      "read images with core.io.images.read_image")
            shrinking = image.shape[0] > self.size or image.shape[1] > self.size
            batch[i] = cv2.resize(image, (self.size, self.size),
                                  interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        batch = (batch / 255.0 - np.array(self.mean, np.float32)) / np.array(self.std, np.float32)
        return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(device)


@dataclass
class ClassifierRecord:
    """A loaded classifier, ready to run.

    model: eval-mode module on ``device``, (B, 3, S, S) → (B, C) logits; class_names: C names;
    target_layer: the layer whose activations the CAM family explains (None: found with
    :func:`last_conv_layer`); reshape: turns a token layer's (B, T, K) output into (B, K, h, w)
    for ViT / Swin (None for CNNs); name and source: what it is and where it came from.
    """

    model: nn.Module
    class_names: list[str]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    target_layer: nn.Module | None = None
    reshape: Callable[[torch.Tensor], torch.Tensor] | None = None
    name: str = ""
    source: str = ""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def layer(self) -> nn.Module:
        """The CAM target layer: the record's own, or the model's last convolution."""
        return self.target_layer if self.target_layer is not None else last_conv_layer(self.model)


def _refuse_torchscript(model: nn.Module, needed: str) -> None:
    if isinstance(model, torch.jit.ScriptModule):
        raise ClassifierError(f"a TorchScript model's layers cannot be hooked, so it has no {needed}: load the "
                              "architecture with a state dict (pointprompt … --classifier ARCH --weights FILE) for "
                              "CAM maps and gradient trust scores; output-only scores work on TorchScript")


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The last ``nn.Conv2d`` in the module's registration order (for torchvision CNNs, the last
    convolution before pooling). Raises ClassifierError when there is none (a ViT: give a target
    layer and a reshape) or the model is TorchScript."""
    _refuse_torchscript(model, "CAM target layer")
    found = None
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            found = module
    if found is None:
        raise ClassifierError(f"{type(model).__name__} has no Conv2d layer: name a target layer and a reshape "
                              "for token maps (ViT, Swin)")
    return found


def final_linear(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` in registration order: the classification head W (C × D) that
    GradNorm, GradTrust and the closed-form contrast weights use."""
    _refuse_torchscript(model, "classification head to differentiate")
    found = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            found = module
    if found is None:
        raise ClassifierError(f"{type(model).__name__} has no Linear layer: the gradient trust scores need "
                              "a linear classification head")
    return found


def vit_reshape(grid: tuple[int, int], prefix_tokens: int = 1) -> Callable[[torch.Tensor], torch.Tensor]:
    """A reshape for ViT-like token maps: (B, prefix + h·w, K) → (B, K, h, w), dropping the
    ``prefix_tokens`` (the CLS token) first."""
    height, width = grid

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        tokens = tokens[:, prefix_tokens:, :]
        return tokens.reshape(tokens.shape[0], height, width, tokens.shape[2]).permute(0, 3, 1, 2)

    return reshape


def swin_reshape(tokens: torch.Tensor) -> torch.Tensor:
    """Swin's (B, h, w, K) stage output → (B, K, h, w)."""
    return tokens.permute(0, 3, 1, 2)
