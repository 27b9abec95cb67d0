"""The classifier CAM family against independent oracles: pytorch-grad-cam, Captum, the released
VOICE formulas, one backward per class, and the GAP + linear head's closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from core.gradients.cam import gradcam, minmax_normalise
from core.gradients.cam_targets import ClassTarget, ClassTargets, ContrastTarget, ContrastTargets, second_class
from core.gradients.classifier_cam import (
    ContrastCAM,
    ContrastGradCAMPlusPlus,
    CounterfactualCAM,
    GradCAM,
    GradCAMPlusPlus,
    upsample,
)
from core.gradients.explain_image import explain_image
from core.models.classifier import ClassifierError, ClassifierRecord, Preprocessing, swin_reshape, vit_reshape


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


@pytest.fixture(scope="module")
def inputs():
    return torch.randn(2, 3, 112, 112, generator=torch.Generator().manual_seed(1))


def captured(model: nn.Module, layer: nn.Module, inputs: torch.Tensor,
             score) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A plain reference: activations (B, K, h, w), ∂score/∂A and the logits, by one ordinary backward."""
    store = {}

    def hook(module, args, output):
        output.retain_grad()
        store["a"] = output

    handle = layer.register_forward_hook(hook)
    try:
        logits = model(inputs)
        score(logits).sum().backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    return store["a"].detach(), store["a"].grad.detach(), logits.detach()


def test_gradcam_and_gradcam_plusplus_match_pytorch_grad_cam(resnet, inputs):
    from pytorch_grad_cam import GradCAM as LibraryGradCAM
    from pytorch_grad_cam import GradCAMPlusPlus as LibraryGradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    classes = torch.tensor([3, 700])
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    layer = resnet.layer4[-1].conv2  # what ours picks by itself
    for ours, library in ((GradCAM, LibraryGradCAM), (GradCAMPlusPlus, LibraryGradCAMPlusPlus)):
        # the library: ReLU, min-max per map, cv2.resize (half-pixel bilinear), min-max again; ours:
        # ReLU, bilinear upsampling, min-max once: the same maps up to the library's 1e-7 guards
        expected = library(resnet, [layer])(inputs, targets)
        result = ours(resnet)(inputs, ClassTarget(classes))
        assert result.grid.shape == (2, 4, 4) and result.maps().shape == (2, 112, 112)
        np.testing.assert_allclose(result.maps().numpy(), expected, atol=1e-4)


def test_gradcam_matches_captum(resnet, inputs):
    from captum.attr import LayerGradCam

    layer = resnet.layer4[-1].conv2
    expected = LayerGradCam(resnet, layer).attribute(inputs, target=[5, 9], relu_attributions=True)  # (B, 1, h, w)
    result = GradCAM(resnet)(inputs, ClassTarget(torch.tensor([5, 9])))
    torch.testing.assert_close(result.grid, expected[:, 0].detach(), rtol=1e-4, atol=1e-6)


def test_voice_code_gradcam_plusplus_follows_the_released_formula(resnet, inputs):
    layer = resnet.layer4[-1].conv2
    activations, gradients, logits = captured(resnet, layer, inputs, lambda z: z[:, 7])
    # the released GradCAMpp: Σ_ab A·g³ in the denominator, exp(s) in the ReLU term, 1e-7
    g2, g3 = gradients.pow(2), gradients.pow(3)
    denominator = 2 * g2 + (activations * g3).sum(dim=(-2, -1), keepdim=True)
    denominator = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    alpha = g2 / (denominator + 1e-7)
    weights = (alpha * torch.relu(logits[:, 7, None, None, None].exp() * gradients)).sum(dim=(-2, -1))
    expected = minmax_normalise(torch.nn.functional.interpolate(
        torch.relu((weights[..., None, None] * activations).sum(1, keepdim=True)), size=(112, 112),
        mode="bilinear", align_corners=False)[:, 0])
    ours = GradCAMPlusPlus(resnet, variant="voice_code")(inputs, ClassTarget(7))
    torch.testing.assert_close(ours.maps(), expected, atol=1e-4, rtol=0)
    paper = GradCAMPlusPlus(resnet)(inputs, ClassTarget(7))
    assert (paper.maps() - ours.maps()).abs().max() > 1e-3  # the two variants are different maps


def test_all_contrasts_in_one_backward_equal_one_backward_per_class(resnet, inputs):
    cam = ContrastCAM(resnet)
    assert cam(inputs).closed_form is False  # the last conv feeds batch norm, a residual sum and a ReLU
    batched = cam(inputs, ContrastTargets(torch.arange(1000)))
    assert batched.grid.shape == (1000, 2, 4, 4) and batched.weights.shape == (1000, 2, 512)
    layer = resnet.layer4[-1].conv2
    for q in (0, 1, 417, 999):
        activations, gradients, _ = captured(resnet, layer, inputs,
                                             lambda z: torch.nn.functional.cross_entropy(z, torch.full((2,), q),
                                                                                         reduction="none"))
        torch.testing.assert_close(batched.grid[q], gradcam(activations, gradients), rtol=1e-4, atol=1e-7)
    at_once = ContrastCAM(resnet, max_gradient_elements=2 ** 30)(inputs, ContrastTargets(torch.arange(300)))
    torch.testing.assert_close(at_once.grid, batched.grid[:300])  # the default goes in chunks of 128 classes


def test_closed_form_contrast_weights_equal_autograd(resnet, inputs):
    closed = ContrastCAM(resnet, resnet.layer4)  # layer4's output is what the average pool + fc read
    autograd = ContrastCAM(resnet, resnet.layer4, closed_form=False)
    targets = ContrastTargets(torch.arange(1000))
    by_formula, by_autograd = closed(inputs, targets), autograd(inputs, targets)
    assert by_formula.closed_form and not by_autograd.closed_form
    torch.testing.assert_close(by_formula.weights, by_autograd.weights, rtol=1e-4, atol=1e-9)
    torch.testing.assert_close(by_formula.grid, by_autograd.grid, rtol=1e-4, atol=1e-7)
    # α_Q = (Wᵀp − W_Q)/(hw), written out
    weight, probabilities = resnet.fc.weight.detach(), by_formula.logits.softmax(dim=-1)
    expected = (probabilities @ weight)[None] - weight[:, None, :]
    torch.testing.assert_close(by_formula.weights, expected / 16, rtol=1e-5, atol=1e-9)
    # any target, any weighting: Grad-CAM and Grad-CAM++ of the predicted class too
    for cam_class in (GradCAM, GradCAMPlusPlus):
        torch.testing.assert_close(cam_class(resnet, resnet.layer4)(inputs).grid,
                                   cam_class(resnet, resnet.layer4, closed_form=False)(inputs).grid,
                                   rtol=1e-4, atol=1e-6)
    with pytest.raises(ClassifierError, match="closed_form"):
        ContrastCAM(resnet, closed_form=True)(inputs)


def test_counterfactual_is_gradcam_with_negated_weights(resnet, inputs):
    explained = GradCAM(resnet)(inputs)
    counterfactual = CounterfactualCAM(resnet)(inputs)
    torch.testing.assert_close(counterfactual.weights, -explained.weights)
    activations, gradients, logits = captured(resnet, resnet.layer4[-1].conv2, inputs,
                                              lambda z: z.gather(1, z.argmax(1, keepdim=True))[:, 0])
    torch.testing.assert_close(counterfactual.grid, gradcam(activations, gradients, counterfactual=True),
                               rtol=1e-4, atol=1e-7)
    negated_score = GradCAM(resnet)(inputs, lambda z: -ClassTarget()(z))  # the same as s = −z_P
    torch.testing.assert_close(negated_score.grid, counterfactual.grid, rtol=1e-5, atol=1e-8)


def test_contrast_defaults_to_the_second_class_and_stacks(resnet, inputs):
    cam = ContrastCAM(resnet)
    layer_pass = cam.forward(inputs)
    default = cam.explain(layer_pass)
    explicit = cam.explain(layer_pass, ContrastTarget(second_class(layer_pass.logits)))
    torch.testing.assert_close(default.grid, explicit.grid)
    many = ContrastGradCAMPlusPlus(resnet)(inputs, ContrastTargets([1, 2, 3]))
    assert many.grid.shape == (3, 2, 4, 4)
    all_classes = GradCAM(resnet)(inputs, ClassTargets(torch.arange(10)))
    torch.testing.assert_close(all_classes.grid[4], GradCAM(resnet)(inputs, ClassTarget(4)).grid,
                               rtol=1e-4, atol=1e-8)


class TinyViT(nn.Module):
    """Patch embedding (4 × 4 patches of 32 × 32: an 8 × 8 grid), a CLS token, two encoder blocks,
    the head on the CLS token. As for a real ViT, the maps come from the input of the last block
    (after it only the CLS token matters, so the patch tokens' gradients there are 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 32, 4, stride=4)
        self.cls = nn.Parameter(torch.randn(1, 1, 32))
        self.blocks = nn.Sequential(*[nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
                                      for _ in range(2)])
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patches(x).flatten(2).transpose(1, 2)
        tokens = self.norm(self.blocks(torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)))
        return self.head(tokens[:, 0])


def test_vit_token_maps_through_the_reshape_match_pytorch_grad_cam():
    from pytorch_grad_cam import GradCAM as LibraryGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(2)
    model, inputs = TinyViT().eval(), torch.randn(2, 3, 32, 32)
    reshape = vit_reshape((8, 8), prefix_tokens=1)
    result = GradCAM(model, model.blocks[0], reshape)(inputs, ClassTarget(1))
    assert result.grid.shape == (2, 8, 8) and result.maps().shape == (2, 32, 32) and not result.closed_form
    assert torch.isfinite(result.grid).all() and result.grid.max() > 0
    expected = LibraryGradCAM(model, [model.blocks[0]], reshape_transform=reshape)(
        inputs, [ClassifierOutputTarget(1)] * 2)
    np.testing.assert_allclose(result.maps().numpy(), expected, atol=1e-4)
    with pytest.raises(ClassifierError, match="reshape"):
        GradCAM(model, model.blocks[0])(inputs)


class TinySwin(nn.Module):
    """A Swin-like stage: (B, h, w, K) tokens, averaged and classified (a GAP + linear head)."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 16, 4, stride=4)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.patches(x).permute(0, 2, 3, 1)).mean(dim=(1, 2)))


def test_swin_token_maps_use_the_closed_form_through_the_reshape():
    torch.manual_seed(3)
    model, inputs = TinySwin().eval(), torch.randn(3, 3, 24, 24)
    closed = ContrastCAM(model, model.norm, swin_reshape)(inputs, ContrastTargets(torch.arange(6)))
    autograd = ContrastCAM(model, model.norm, swin_reshape, closed_form=False)(inputs, ContrastTargets(torch.arange(6)))
    assert closed.closed_form and closed.grid.shape == (6, 3, 6, 6)
    torch.testing.assert_close(closed.grid, autograd.grid, rtol=1e-4, atol=1e-7)


def test_an_in_place_relu_after_the_layer_and_training_mode():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 3)).eval()
    inputs = torch.randn(2, 3, 10, 10)
    result = GradCAM(model)(inputs, ClassTarget(2))
    assert not result.closed_form  # the pool reads ReLU(A), not A
    reference = nn.Sequential(model[0], nn.ReLU(), *model[2:])  # the same weights, no in-place ReLU
    activations, gradients, _ = captured(reference, model[0], inputs, lambda z: z[:, 2])
    torch.testing.assert_close(result.grid, gradcam(activations, gradients), rtol=1e-5, atol=1e-7)
    with pytest.raises(ClassifierError, match="eval"):
        GradCAM(model.train())(inputs)


def test_upsampling_and_image_maps_align_with_the_whole_image_resize():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=4, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    record = ClassifierRecord(model, ["a", "b", "c", "d"], Preprocessing(size=32))
    image = np.random.default_rng(0).integers(0, 256, (50, 80, 3), dtype=np.uint8)
    for method in ("gradcam", "gradcam++", "counterfactual", "contrast", "contrast++"):
        explanation = explain_image(record, image, method)
        assert explanation.map.shape == (50, 80) and explanation.map.dtype == np.float32, method
        assert 0 <= explanation.map.min() and explanation.map.max() <= 1, method
        assert (explanation.contrast is not None) == method.startswith("contrast")
    one_hot = torch.zeros(1, 4, 4)
    one_hot[0, 1, 2] = 1.0  # a peak at row 1, column 2 of a 4 × 4 grid
    peak = upsample(one_hot, (32, 32))[0]
    row, col = divmod(int(peak.argmax()), 32)
    assert 8 <= row < 16 and 16 <= col < 24  # the same cell on the input grid
    assert peak.min() == 0 and peak.max() == 1
