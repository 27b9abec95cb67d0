"""Explanation evaluation: masking, pixel-wise deletion / insertion (against a step-by-step
reference and on a model whose decision lives in one quadrant), Huffman bits, structure-wise curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from core.gradients.cam_targets import ClassTarget
from core.gradients.classifier_cam import GradCAM
from core.gradients.explanation_eval import (
    EvaluationCancelled,
    causal_curve,
    deletion_curve,
    insertion_curve,
    masking_scores,
)
from core.gradients.huffman import huffman_bits, huffman_code_lengths
from core.gradients.structure_eval import structure_curve
from core.models.classifier import ClassifierRecord, Preprocessing


class QuadrantMask(nn.Module):
    """Keeps the top-left quadrant of a (B, K, g, g) grid, zeroes the rest."""

    def __init__(self, grid: int) -> None:
        super().__init__()
        mask = torch.zeros(grid, grid)
        mask[: grid // 2, : grid // 2] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class QuadrantNet(nn.Module):
    """Two classes on 32 × 32 inputs: class 1 iff the top-left quadrant is bright. Patch means
    (4 × 4 patches, four channels scaled 1..4), ReLU, the quadrant kept, average pool, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.patches = nn.Conv2d(3, 4, 4, stride=4, bias=False)
        self.quadrant = QuadrantMask(8)
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.patches.weight.copy_(torch.arange(1.0, 5.0)[:, None, None, None].expand(4, 3, 4, 4) / 48)
            self.head.weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4]))
            self.head.bias.copy_(torch.tensor([0.0, -3.75]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.quadrant(torch.relu(self.patches(x))).mean(dim=(-2, -1)))


@pytest.fixture
def quadrant_scene():
    torch.manual_seed(0)
    model = QuadrantNet().eval()
    inputs = torch.rand(2, 3, 32, 32) * 2 - 1
    inputs[:, :, :16, :16] = 1.5
    return model, inputs


def test_gradcam_finds_the_quadrant_and_wins_on_deletion_and_insertion(quadrant_scene):
    model, inputs = quadrant_scene
    assert model(inputs).softmax(-1)[:, 1].min() > 0.95
    result = GradCAM(model, model.quadrant)(inputs, ClassTarget(1))
    assert result.closed_form
    maps = result.maps()  # (2, 32, 32)
    inside = maps[:, :16, :16].sum(dim=(-2, -1)) / maps.sum(dim=(-2, -1))
    assert inside.min() > 0.9 and maps[:, :14, :14].min() > 0.9  # bilinear upsampling bleeds half a cell
    assert maps[:, 18:].max() == 0 and maps[:, :, 18:].max() == 0
    random = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(1))
    classes = torch.ones(2, dtype=torch.long)
    deletion, deletion_random = (deletion_curve(model, inputs, m, classes=classes) for m in (maps, random))
    assert (deletion.auc < deletion_random.auc - 0.2).all()
    # insertion into the mean colour (a blur keeps this toy's bright quadrant: class 1 from the start)
    insertion, insertion_random = (insertion_curve(model, inputs, m, classes=classes, substrate="mean")
                                   for m in (maps, random))
    assert (insertion.scores[:, 0] < 0.2).all() and (insertion.auc > insertion_random.auc + 0.2).all()


def reference_curve(model, image, saliency, substrate, step, klass):
    """RISE's loop, one step at a time, one image."""
    order = np.argsort(-saliency.flatten().numpy(), kind="stable")
    current, scores = image.clone(), []
    flat_current, flat_substrate = current.view(3, -1), substrate.reshape(3, -1)
    for i in range(math.ceil(order.size / step) + 1):
        with torch.no_grad():
            scores.append(float(model(current[None]).softmax(-1)[0, klass]))
        chosen = order[i * step:(i + 1) * step]
        flat_current[:, chosen] = flat_substrate[:, chosen]
    return np.array(scores)


def test_batched_curves_equal_the_step_by_step_loop(quadrant_scene):
    model, inputs = quadrant_scene
    saliency = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(2))
    for substrate in ("zero", "mean"):
        curve = deletion_curve(model, inputs, saliency, pixels_per_step=100, substrate=substrate, batch_size=5)
        assert curve.scores.shape == (2, 12) and curve.fractions[0] == 0 and curve.fractions[-1] == 1
        for b in range(2):
            mean = inputs[b].mean((1, 2), keepdim=True).expand_as(inputs[b])
            fill = torch.zeros_like(inputs[b]) if substrate == "zero" else mean
            expected = reference_curve(model, inputs[b], saliency[b], fill, 100, int(curve.classes[b]))
            np.testing.assert_allclose(curve.scores[b].numpy(), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(curve.auc, torch.trapezoid(curve.scores, curve.fractions, dim=-1))
    insertion = insertion_curve(model, inputs, saliency, pixels_per_step=100)
    told = []
    insertion_again = causal_curve(model, inputs, saliency, "insertion", pixels_per_step=100, batch_size=10,
                                   progress=lambda done, total: told.append((done, total)))
    torch.testing.assert_close(insertion.scores, insertion_again.scores)
    assert told == [(10, 24), (20, 24), (24, 24)]
    with pytest.raises(EvaluationCancelled):
        deletion_curve(model, inputs, saliency, cancelled=lambda: True)
    original = float(model(inputs[:1]).detach().softmax(-1)[0, 1])
    assert float(insertion.scores[0, -1]) == pytest.approx(original, rel=1e-5)
    assert ((0 <= insertion.auc) & (insertion.auc <= 1)).all()


def test_masking_keeps_or_removes_the_evidence(quadrant_scene):
    model, inputs = quadrant_scene
    ones, zeros = torch.ones(2, 32, 32), torch.zeros(2, 32, 32)
    kept = masking_scores(model, inputs, ones)
    torch.testing.assert_close(kept.after, kept.before)
    assert (kept.classes == 1).all()
    removed = masking_scores(model, inputs, zeros)
    assert (removed.after < 0.05).all() and (removed.before > 0.95).all()
    quadrant = zeros.clone()
    quadrant[:, :16, :16] = 1.0  # x ⊙ M keeps exactly what the decision needs
    torch.testing.assert_close(masking_scores(model, inputs, quadrant).after, kept.before, rtol=1e-5, atol=1e-6)


def test_huffman_bits_of_known_histograms():
    lengths = huffman_code_lengths(np.array([5, 9, 12, 13, 16, 45]))
    assert lengths.tolist() == [4, 4, 3, 3, 3, 1]  # the textbook example: 224 bits for 100 symbols
    assert huffman_bits(np.full((40, 50, 3), 77, np.uint8)) == 0  # one symbol: nothing to say
    assert huffman_bits(np.array([0, 255] * 50, np.uint8)) == 100  # two symbols: one bit each
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert huffman_bits(noise) / noise.size == pytest.approx(8.0, abs=0.05)
    counts = np.bincount(noise.reshape(-1) // 16, minlength=256)  # 16 levels: 4 bits each
    assert (counts * huffman_code_lengths(counts)).sum() / noise.size == pytest.approx(4.0, abs=0.01)
    skewed = np.random.default_rng(1).geometric(0.3, 20000).clip(0, 255).astype(np.uint8)
    counts = np.bincount(skewed, minlength=256)
    p = counts[counts > 0] / counts.sum()
    entropy = float(-(p * np.log2(p)).sum())
    assert entropy <= huffman_bits(skewed) / skewed.size < entropy + 1


def test_structure_wise_curves():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(3, 4, 4, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 3)).eval()
    record = ClassifierRecord(model, ["a", "b", "c"], Preprocessing(size=32))
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    explanation = np.tile(np.linspace(0, 1, 60, dtype=np.float32), (40, 1))  # importance grows to the right
    deletion = structure_curve(record, image, explanation)
    assert deletion.bit_ratios.shape == deletion.probabilities.shape == (9,)
    assert np.all(np.diff(deletion.bit_ratios) < 0)  # a higher level deletes more: fewer bits
    assert deletion.start == (0.0, pytest.approx(deletion.start[1]))  # all black: no bits at all
    assert 0 < deletion.bit_ratios.min() and deletion.bit_ratios.max() < 1 and 0 <= deletion.auc <= 1
    everything = structure_curve(record, image, np.ones((40, 60), np.float32))
    np.testing.assert_allclose(everything.bit_ratios, 1.0)
    np.testing.assert_allclose(everything.probabilities, everything.original_probability, rtol=1e-6)
    assert everything.correct.all()
    insertion = structure_curve(record, image, explanation, mode="insertion")
    assert 0 < insertion.start[0] < 1 and np.all(np.diff(insertion.bit_ratios) < 0)
    assert insertion.predicted == deletion.predicted and 0 <= insertion.auc <= 1
    with pytest.raises(ValueError, match="resize"):
        structure_curve(record, image, explanation[:10])
