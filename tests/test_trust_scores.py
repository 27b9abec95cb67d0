"""Trust and uncertainty scores: closed forms against autograd, MC dropout, baselines, the entry point."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.gradients import gradient_trust, trust_baselines
from core.gradients.classifier_head import forward_with_head
from core.gradients.trust_scores import SCORES, TrustOptions, as_trust, compute_trust_scores, image_trust_scores
from core.models.classifier import ClassifierError
from tests.trust_helpers import small_cnn, small_record


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def test_gradnorm_closed_form_equals_autograd(batch):
    model = small_cnn(num_classes=5)
    head_pass = forward_with_head(model, batch)
    closed = gradient_trust.gradnorm(head_pass.logits, head_pass.features)
    vmapped = gradient_trust.gradnorm_autograd(head_pass.head.weight, head_pass.head.bias, head_pass.features)
    torch.testing.assert_close(closed, vmapped, rtol=1e-5, atol=1e-7)
    for b in range(2):  # and the plain definition: backward through the whole model, one sample
        model.zero_grad()
        logits = model(batch[b:b + 1])
        (-logits.log_softmax(-1).sum() / logits.shape[-1]).backward()
        assert math.isclose(head_pass.head.weight.grad.abs().sum().item(), closed[b].item(), rel_tol=1e-5)
    p = head_pass.logits.softmax(-1)  # the identity with its exact constant: ‖C·p − 1‖₁ ‖h‖₁ / C
    identity = (5 * p - 1).abs().sum(-1) * head_pass.features.abs().sum(-1) / 5
    torch.testing.assert_close(closed, identity, rtol=1e-5, atol=1e-7)


def test_mc_dropout_decomposition_sums_and_is_reproducible(batch):
    model = small_cnn(dropout=0.5)
    bn_mean = model[1].running_mean.clone()
    parts = trust_baselines.mc_dropout(model, batch, passes=8, seed=3)
    torch.testing.assert_close(parts["total"], parts["aleatoric"] + parts["epistemic"])
    assert (parts["epistemic"] > -1e-6).all() and (parts["epistemic"] > 1e-6).any()
    again = trust_baselines.mc_dropout(model, batch, passes=8, seed=3)
    torch.testing.assert_close(parts["total"], again["total"])
    assert not model.training and not any(m.training for m in model.modules())  # modes restored
    torch.testing.assert_close(model[1].running_mean, bn_mean)  # BatchNorm never in train mode


def test_mc_dropout_without_dropout_has_zero_epistemic(batch):
    model = torch.nn.Sequential(*[m for m in small_cnn() if not isinstance(m, torch.nn.Dropout)]).eval()
    parts = trust_baselines.mc_dropout(model, batch, passes=8)
    assert torch.equal(parts["epistemic"], torch.zeros(len(batch)))
    torch.testing.assert_close(parts["total"], trust_baselines.entropy(model(batch)))


def test_gradtrust_released_closed_form_equals_autograd(batch):
    model = small_cnn(num_classes=7)
    head_pass = forward_with_head(model, batch)
    closed = gradient_trust.gradtrust_released(head_pass.logits)
    vmapped = gradient_trust.gradtrust_released_autograd(head_pass.head.weight, head_pass.head.bias,
                                                         head_pass.features)
    torch.testing.assert_close(closed, vmapped, rtol=1e-4, atol=1e-6)
    assert ((closed >= 1) & (closed <= 7)).all()


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_gradtrust_closed_form_equals_autograd(batch, loss):
    model = small_cnn(num_classes=6)
    head_pass = forward_with_head(model, batch)
    closed = gradient_trust.gradtrust(head_pass.logits, head_pass.features, k=3, loss=loss)
    vmapped = gradient_trust.gradtrust_autograd(head_pass.head.weight, head_pass.head.bias, head_pass.features,
                                                k=3, loss=loss)
    torch.testing.assert_close(closed, vmapped, rtol=1e-4, atol=1e-6)


def test_slide_gradtrust_on_a_hand_made_case():
    """C = 3, D = 2: gradients written out as matrices, their variances by NumPy."""
    z = np.array([2.0, 1.0, -1.0])
    h = np.array([1.0, 3.0])
    p = np.exp(z) / np.exp(z).sum()
    eye = np.eye(3)
    var = [np.var(np.outer(p - eye[c], h)) for c in range(3)]  # CE gradient w.r.t. W is (p − e_c) hᵀ
    expected_k1 = var[0] / var[1]  # P = 0, top-1 contrast Q = 1
    expected_k2 = var[0] / np.mean(var[1:])
    logits, features = torch.from_numpy(z[None]), torch.from_numpy(h[None])
    assert math.isclose(gradient_trust.gradtrust(logits, features, k=1).item(), expected_k1, rel_tol=1e-6)
    assert math.isclose(gradient_trust.gradtrust(logits, features, k=2).item(), expected_k2, rel_tol=1e-6)
    # with cross-entropy, h cancels: ‖p − e_P‖² / mean_Q ‖p − e_Q‖²
    norms = [np.sum((p - eye[c]) ** 2) for c in range(3)]
    assert math.isclose(expected_k2, norms[0] / np.mean(norms[1:]), rel_tol=1e-9)
    # orientation: a confident prediction has the smaller ratio (higher = less trust)
    confident = gradient_trust.gradtrust(torch.tensor([[8.0, 0.0, -1.0]]), features, k=2).item()
    ambiguous = gradient_trust.gradtrust(torch.tensor([[1.0, 0.9, 0.8]]), features, k=2).item()
    assert confident < ambiguous < 1.0
    assert not SCORES["gradtrust"].higher_is_trust and SCORES["gradtrust_released"].higher_is_trust


def test_baselines_on_known_logits():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    p = torch.softmax(logits, -1)
    torch.testing.assert_close(trust_baselines.msp(logits), p.max(-1).values)
    torch.testing.assert_close(trust_baselines.nll(logits), -torch.log(p.max(-1).values))
    torch.testing.assert_close(trust_baselines.entropy(logits)[1], torch.tensor(math.log(3)))
    assert (trust_baselines.entropy(logits) > 0).all()
    torch.testing.assert_close(trust_baselines.margin(logits), torch.stack([p[0, 0] - p[0, 1], torch.tensor(0.0)]))
    torch.testing.assert_close(trust_baselines.energy(logits), -torch.logsumexp(logits, -1))
    torch.testing.assert_close(trust_baselines.max_logit(logits), torch.tensor([2.0, 0.0]))


def test_odin_without_perturbation_is_the_tempered_msp_and_the_perturbation_raises_it(batch):
    model = small_cnn(num_classes=4)
    std = (0.229, 0.224, 0.225)
    plain = trust_baselines.odin(model, batch, std, temperature=10.0, epsilon=0.0)
    torch.testing.assert_close(plain, (model(batch) / 10.0).softmax(-1).amax(-1))
    perturbed = trust_baselines.odin(model, batch, std, temperature=10.0, epsilon=1e-3)
    assert (perturbed >= plain - 1e-7).all() and (perturbed > plain).any()


def test_entry_point_returns_every_score_oriented(batch):
    record = small_record()
    scores = compute_trust_scores(record, batch, TrustOptions(mc_passes=4))
    expected = set(SCORES) - {"purview"}  # the detector score needs a fitted detector
    assert expected <= set(scores) and "prediction" in scores
    assert any(name.startswith("purview.") for name in scores)
    for name in expected:
        assert scores[name].shape == (6,) and np.isfinite(scores[name]).all(), name
        assert np.array_equal(as_trust(name, scores[name]),
                              scores[name] if SCORES[name].higher_is_trust else -scores[name])
    np.testing.assert_allclose(scores["msp"], np.exp(-scores["nll"]), rtol=1e-6)
    subset = compute_trust_scores(record, batch, TrustOptions(scores=("msp", "gradtrust")))
    assert set(subset) == {"prediction", "msp", "gradtrust"}


def test_image_trust_scores_on_one_image(rng):
    record = small_record()
    image = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    scores = image_trust_scores(record, image, TrustOptions(mc_passes=3))
    assert 0 <= scores["prediction"] < 3 and 0 < scores["msp"] <= 1
    assert all(isinstance(value, float) for value in scores.values())
    assert not any(name.startswith("purview.") for name in scores)


def test_head_that_does_not_produce_the_logits_is_refused(batch):
    model = torch.nn.Sequential(small_cnn(), torch.nn.Softmax(-1)).eval()
    with pytest.raises(ClassifierError, match="does not produce the logits"):
        forward_with_head(model, batch)


def test_uniform_loss_gradient_is_p_minus_one_over_c():
    z = torch.randn(4, 5, requires_grad=True)
    loss = -F.log_softmax(z, -1).mean(-1).sum()
    (gradient,) = torch.autograd.grad(loss, z)
    torch.testing.assert_close(gradient, z.softmax(-1) - 1 / 5)
