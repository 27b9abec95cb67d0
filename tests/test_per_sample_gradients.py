"""torch.func per-sample gradients and the Purview features and detector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.gradients.per_sample import layer_of, per_sample_gradients, per_sample_gradients_loop, per_sample_layer_norms
from core.gradients.purview import PurviewDetector, PurviewDetectorError, confounding_loss, purview_features
from tests.trust_helpers import small_cnn


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_vmap_gradients_equal_a_python_loop(batch):
    model = small_cnn(num_classes=4)
    vmapped, logits = per_sample_gradients(model, batch, confounding_loss, chunk_size=2)
    looped = per_sample_gradients_loop(model, batch, confounding_loss)
    assert set(vmapped) == set(looped) == {name for name, _ in model.named_parameters()}
    for name in looped:
        torch.testing.assert_close(vmapped[name], looped[name], rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(logits, model(batch).detach())


def test_layer_norms_sum_each_layers_parameters(batch):
    model = small_cnn(num_classes=4)
    norms, layers, _ = per_sample_layer_norms(model, batch, confounding_loss, chunk_size=3)
    looped = per_sample_gradients_loop(model, batch, confounding_loss)
    assert layers == ["0", "1", "3", "8"] and norms.shape == (5, 4)
    for i, layer in enumerate(layers):
        expected = sum(g.flatten(1).double().pow(2).sum(1) for name, g in looped.items() if layer_of(name) == layer)
        torch.testing.assert_close(norms[:, i], expected, rtol=1e-4, atol=1e-12)


def test_selected_parameters_only(batch):
    model = small_cnn(num_classes=4)
    gradients, _ = per_sample_gradients(model, batch, confounding_loss, names=["8.weight"])
    assert list(gradients) == ["8.weight"] and gradients["8.weight"].shape == (5, 4, 12)
    with pytest.raises(KeyError):
        per_sample_gradients(model, batch, confounding_loss, names=["nope.weight"])


def test_detector_fits_predicts_like_scikit_learn_and_round_trips(tmp_path, rng):
    from sklearn.linear_model import LogisticRegression

    names = ["a", "b", "c"]
    clean = np.exp(rng.normal(0, 1, size=(60, 3)))
    challenge = np.exp(rng.normal(1.5, 1, size=(50, 3)))
    detector = PurviewDetector.fit(clean, challenge, names)
    probability = detector.challenge_probability(np.r_[clean, challenge], names)
    x = np.log(np.r_[clean, challenge] + 1e-30)
    reference = LogisticRegression(class_weight="balanced", max_iter=2000).fit(
        (x - x.mean(0)) / x.std(0), np.r_[np.zeros(60), np.ones(50)])
    np.testing.assert_allclose(probability, reference.predict_proba((x - x.mean(0)) / x.std(0))[:, 1], atol=1e-6)
    assert probability[60:].mean() > probability[:60].mean()
    path = detector.save(tmp_path / "detector.json")
    assert json.loads(path.read_text())["format"] == "pointprompt-purview-detector"  # plain JSON
    loaded = PurviewDetector.load(path)
    np.testing.assert_allclose(loaded.challenge_probability(clean), detector.challenge_probability(clean))
    with pytest.raises(PurviewDetectorError, match="fitted on 3 layers"):
        loaded.challenge_probability(clean[:, :2], ["a", "b"])
    (tmp_path / "bad.json").write_text('{"format": "pointprompt-purview-detector", "mean": [1]}')
    with pytest.raises(PurviewDetectorError, match="damaged"):
        PurviewDetector.load(tmp_path / "bad.json")


def test_purview_features_shape_and_sign(batch):
    model = small_cnn(num_classes=4)
    features, layers, logits = purview_features(model, batch)
    assert features.shape == (5, len(layers)) and (features >= 0).all() and logits.shape == (5, 4)


class _Zoo(torch.nn.Module):
    """Every layer rule and every fallback: strided, dilated, grouped, 'same' (even kernel) convs,
    BatchNorm, GroupNorm, in-place ReLU, tokens through LayerNorm / Linear / attention, a layer
    called twice, tied weights and a parameter of the root module."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.gn = nn.GroupNorm(2, 8)
        self.conv3 = nn.Conv2d(8, 6, 2, padding="same")
        self.conv4 = nn.Conv2d(6, 6, 1)
        self.norm = nn.LayerNorm(6)
        self.attention = nn.MultiheadAttention(6, 2, batch_first=True)
        self.token = nn.Linear(6, 6)
        self.shared = nn.Linear(6, 6)
        self.tied = nn.Linear(6, 6)
        self.tied.weight = self.shared.weight
        self.scale = nn.Parameter(torch.tensor(1.5))
        self.bn_head = nn.BatchNorm1d(6)
        self.head = nn.Linear(6, 4)
        for bn in (self.bn1, self.bn_head):  # non-trivial running statistics
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu_(self.bn1(self.conv1(x)))
        x = torch.relu(self.gn(self.conv2(x)))
        x = self.conv4(self.conv3(x))
        tokens = self.norm(x.flatten(2).transpose(1, 2))  # (B, T, 6)
        tokens = tokens + self.attention(tokens, tokens, tokens, need_weights=False)[0]
        tokens = self.token(tokens).relu()
        h = self.shared(self.shared(tokens.mean(1))) + self.tied(tokens.amax(1))
        return self.head(self.bn_head(h * self.scale))


def test_batched_layer_norms_equal_the_loop_for_every_rule_and_fallback(batch):
    from core.gradients.layer_gradients import batched_layer_norms

    torch.manual_seed(3)
    model = _Zoo().eval()
    fast, layers, logits = batched_layer_norms(model, batch, confounding_loss, chunk_size=3)
    slow, slow_layers, _ = per_sample_layer_norms(model, batch, confounding_loss)
    looped = per_sample_gradients_loop(model, batch, confounding_loss)
    assert layers == slow_layers
    expected = torch.zeros_like(slow)
    for name, g in looped.items():
        expected[:, layers.index(layer_of(name))] += g.reshape(len(g), -1).double().pow(2).sum(1)
    torch.testing.assert_close(fast, expected, rtol=1e-4, atol=1e-12)
    torch.testing.assert_close(slow, expected, rtol=1e-4, atol=1e-12)
    torch.testing.assert_close(logits, model(batch).detach())
    assert (expected > 0).all()


def test_batched_layer_norms_on_torchvision_resnet(batch):
    import torchvision

    from core.gradients.layer_gradients import batched_layer_norms

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=5).eval()
    fast, layers, _ = batched_layer_norms(model, batch[:3], confounding_loss)
    slow, _, _ = per_sample_layer_norms(model, batch[:3], confounding_loss)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-12)
    assert len(layers) == 41
