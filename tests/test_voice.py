"""VOICE: metrics on known maps, the contrast selection, the exact variance of upsampled maps, and
the whole method against a one-class-at-a-time reference written as the released code does it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.gradients.cam_targets import ContrastTarget
from core.gradients.classifier_cam import ContrastCAM, GradCAM, GradCAMPlusPlus, upsample
from core.gradients.upsampled_variance import bilinear_matrix, normalised_upsampled_variance
from core.gradients.voice import contrast_selection, voice, voice_image, voice_metrics
from core.models.classifier import ClassifierRecord, Preprocessing


def test_metrics_on_known_maps():
    explanation = torch.zeros(2, 4, 4)
    uncertainty = torch.zeros(2, 4, 4)
    explanation[0, :, :2] = 1.0  # left half
    uncertainty[0, :2, :] = 0.8  # top half: the overlap is a quarter, the union three quarters
    iou, snr = voice_metrics(explanation, uncertainty)
    assert iou[0] == pytest.approx(1 / 3) and snr[0] == pytest.approx(1.0)  # mean 0.4, std 0.4
    assert iou[1] == 1.0 and snr[1] == 0.0  # nothing above the level, a constant uncertainty
    uncertainty[1] = 0.05  # below the 0.1 level: still an empty set
    explanation[1, 0, 0] = 0.5
    iou, _ = voice_metrics(explanation, uncertainty)
    assert iou[1] == 0.0


def test_contrast_selection_paper_threshold_and_released_all():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.3, 0.05, 0.25, 0.4]]).log()
    ids, used = contrast_selection(logits, "all")
    assert ids.tolist() == [0, 1, 2, 3]
    assert used.T.tolist() == [[False, True, True, True], [True, True, True, False]]
    ids, used = contrast_selection(logits, "probable", probability_threshold=0.1)
    assert ids.tolist() == [0, 1, 2] and used.T.tolist() == [[False, True, True], [True, False, True]]
    # 1/C = 0.25: sample 0 has one such Q (too few for a variance: its two most likely Q ≠ P instead)
    ids, used = contrast_selection(logits, "probable")
    assert ids.tolist() == [0, 1, 2] and used.T.tolist() == [[False, True, True], [True, False, True]]
    ids, used = contrast_selection(logits, "probable", probability_threshold=0.28)
    assert ids.tolist() == [0, 1, 2] and used.T.tolist() == [[False, True, True], [True, False, True]]


def test_bilinear_matrix_is_torch_interpolation():
    maps = torch.randn(3, 5, 7, dtype=torch.float64)
    for size in ((5, 7), (11, 23), (40, 9), (2, 3)):
        expected = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        by_matrix = bilinear_matrix(size[0], 5) @ maps @ bilinear_matrix(size[1], 7).T
        torch.testing.assert_close(by_matrix, expected)


@pytest.mark.parametrize("grid, size", [((7, 7), (224, 224)), ((4, 5), (37, 50)), ((3, 3), (3, 3)), ((6, 2), (13, 40))])
def test_variance_of_normalised_upsampled_maps_is_exact(grid, size):
    generator = torch.Generator().manual_seed(sum(grid))
    maps = torch.relu(torch.randn(40, 3, *grid, generator=generator))
    maps[5, 0] = 0.0  # a constant map normalises to zeros
    maps[6, 1] = 2.0
    used = torch.rand(40, 3, generator=generator) > 0.3
    upsampled = upsample(maps, size).double()
    expected = torch.stack([upsampled[used[:, b], b].var(dim=0, unbiased=False) for b in range(3)])
    torch.testing.assert_close(normalised_upsampled_variance(maps, used, size), expected, atol=1e-6, rtol=1e-5)


class SmallNet(nn.Module):
    """Two convolutions, a global average pool, a linear head over 7 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Linear(16, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(-2, -1)))


def released_voice(model: nn.Module, layer: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The released demo's loop: Grad-CAM, then a ContrastCAM per class Q ≠ P, each upsampled and
    normalised, torch.var (unbiased) over them, normalised. One sample, (S, S) maps."""
    explanation = GradCAM(model, layer, closed_form=False)(inputs).maps()[0]
    predicted = int(model(inputs).argmax())
    cam = ContrastCAM(model, layer, closed_form=False)
    contrasts = [cam(inputs, ContrastTarget(q)).maps()[0] for q in range(7) if q != predicted]
    variance = torch.stack(contrasts).var(dim=0)
    return explanation, (variance - variance.min()) / (variance.max() - variance.min())


def test_voice_equals_the_one_class_at_a_time_reference():
    torch.manual_seed(0)
    model = SmallNet().eval()
    inputs = torch.randn(3, 3, 32, 32)
    for closed_form in (None, False):  # the head is GAP + linear on features' output: both paths
        cam = GradCAM(model, model.features, closed_form=closed_form)
        result = voice(cam, inputs, classes="all")
        assert result.uncertainty.shape == (3, 32, 32) and result.iou.shape == (3,)
        assert result.used.sum(dim=0).tolist() == [6, 6, 6]
        for b in range(3):
            explanation, uncertainty = released_voice(model, model.features, inputs[b:b + 1])
            torch.testing.assert_close(result.explanation[b], explanation, atol=1e-5, rtol=0)
            torch.testing.assert_close(result.uncertainty[b], uncertainty, atol=1e-4, rtol=0)
            iou, snr = voice_metrics(explanation, uncertainty)
            assert abs(float(result.iou[b]) - float(iou)) < 0.02
            assert float(result.snr[b]) == pytest.approx(float(snr), rel=1e-3)
    plus = voice(GradCAMPlusPlus(model, model.features), inputs, classes="probable")
    assert torch.isfinite(plus.uncertainty).all() and plus.used.sum(dim=0).min() >= 2


def test_voice_image_is_image_sized():
    torch.manual_seed(1)
    record = ClassifierRecord(SmallNet().eval(), [str(i) for i in range(7)], Preprocessing(size=32))
    image = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    result = voice_image(record, image, classes="all")
    for value in (result.explanation, result.uncertainty):
        assert value.shape == (45, 70) and value.dtype == np.float32 and 0 <= value.min() <= value.max() <= 1
    assert len(result.contrasts) == 6 and result.predicted not in result.contrasts
    assert 0 <= result.iou <= 1 and np.isfinite(result.snr)
