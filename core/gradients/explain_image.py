"""One image, one classifier, one explanation at the image's size: what the app and the CLI call.

``explain_image(record, image, "contrast", contrast=q)`` preprocesses the (H, W, 3) uint8 RGB
image as the classifier expects (the whole image resized to S × S), runs the method of
:data:`core.gradients.classifier_cam.METHODS` on the record's target layer, and returns the map
resized back to (H, W) float32 in [0, 1], aligned pixel for pixel with the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.gradients.cam_targets import ClassTarget, ContrastTarget
from core.gradients.classifier_cam import METHODS, GradCAMPlusPlus, to_image
from core.models.classifier import ClassifierRecord


@dataclass
class ImageExplanation:
    """map: (H, W) float32 in [0, 1]; method: its name; predicted: P; contrast: Q for the
    contrast methods, else None; probabilities: (C,) float32 softmax of the logits."""

    map: np.ndarray
    method: str
    predicted: int
    contrast: int | None
    probabilities: np.ndarray


def explain_image(record: ClassifierRecord, image: np.ndarray, method: str = "gradcam",
                  explained: int | None = None, contrast: int | None = None,
                  variant: Literal["paper", "voice_code"] = "paper") -> ImageExplanation:
    """The ``method`` map ("gradcam", "gradcam++", "counterfactual", "contrast", "contrast++") of
    an (H, W, 3) uint8 RGB image. explained: the class P to explain (default: the predicted one;
    for the contrast methods P is always the prediction, as CE(z, Q) implies); contrast: Q
    (default: the second most likely class); variant: Grad-CAM++'s ("paper" or "voice_code")."""
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    cam_class = METHODS[method]
    options = {"variant": variant} if issubclass(cam_class, GradCAMPlusPlus) else {}
    cam = cam_class.from_record(record, **options)
    layer_pass = cam.forward(record.preprocessing.to_tensor(image, record.device))
    probabilities = layer_pass.logits.softmax(dim=-1)[0]
    predicted = int(probabilities.argmax())
    is_contrast = method.startswith("contrast")
    if is_contrast:
        contrast = int(probabilities.topk(2).indices[1]) if contrast is None else contrast
        target = ContrastTarget(contrast)
    else:
        target = ClassTarget(predicted if explained is None else explained)
    result = cam.explain(layer_pass, target)
    return ImageExplanation(to_image(result.maps()[0], image.shape[:2]), method, predicted,
                            contrast if is_contrast else None, probabilities.cpu().numpy().astype(np.float32))
