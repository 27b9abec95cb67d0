"""The shipped demo classifier, its shape generator, and the scripts that train it and write its data."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from core.models.classifier import ClassifierError, final_linear
from core.models.classifier_loading import load_classifier, load_demo_classifier
from core.models.demo_classifier import DEMO_CLASSIFIER_PATH, metadata_path
from core.synthetic.shape_classes import (
    CLASSES,
    OOD_CLASSES,
    OOD_TEXTURES,
    balanced_set,
    render_shape_image,
    sample_batch,
)
from tests.test_packaging_scripts import load_script


@pytest.fixture(scope="module")
def demo():
    return load_classifier("demo")


def test_demo_loads_with_its_classes_head_dropout_and_target_layer(demo):
    assert demo.num_classes >= 6 and demo.class_names == list(CLASSES)
    assert demo.preprocessing.size == 64 and demo.source == "demo"
    model = demo.model
    assert demo.layer() is model.features and final_linear(model) is model.head
    assert any(isinstance(m, nn.Dropout) and m.p > 0 for m in model.modules())  # MC dropout needs one
    with torch.no_grad():  # global average pool + linear head: logits = W · mean(A) + b
        x = demo.preprocessing.to_tensor([render_shape_image(np.random.default_rng(i), "ring").image
                                          for i in range(3)])
        pooled = model.features(x).mean((2, 3))
        torch.testing.assert_close(model(x), model.head(pooled), rtol=1e-4, atol=1e-4)
    assert DEMO_CLASSIFIER_PATH.stat().st_size < 4_000_000
    meta = json.loads(metadata_path(DEMO_CLASSIFIER_PATH).read_text())
    assert meta["test_accuracy"] >= 0.9 and meta["class_names"] == list(CLASSES)


def test_demo_reaches_90_percent_on_a_fresh_test_set(demo):
    items = balanced_set(seed=777, per_class=40)  # a seed neither training nor its test set used
    labels = np.array([CLASSES.index(item.class_name) for item in items])
    with torch.no_grad():
        logits = demo.model(demo.preprocessing.to_tensor([item.image for item in items]))
    accuracy = float((logits.argmax(1).numpy() == labels).mean())
    assert accuracy >= 0.9, accuracy


def test_missing_demo_weights_say_how_to_restore_them(tmp_path):
    with pytest.raises(ClassifierError,
                       match="demo classifier is missing at .*gone.safetensors.*train_demo_classifier"):
        load_demo_classifier(path=tmp_path / "gone.safetensors")
    with pytest.raises(ClassifierError, match="comes with its own weights"):
        load_classifier("demo", tmp_path / "other.pth")


def test_generator_is_deterministic_for_a_seed_and_draws_every_class():
    a, b = balanced_set(3, 2, CLASSES + OOD_CLASSES), balanced_set(3, 2, CLASSES + OOD_CLASSES)
    assert [i.class_name for i in a] == [name for name in CLASSES + OOD_CLASSES for _ in range(2)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.mask, y.mask)
        assert x.image.shape == (64, 64, 3) and x.image.dtype == np.uint8
        assert 0.03 < x.mask.mean() < 0.6  # a visible shape, not the whole image
    other = balanced_set(4, 2, CLASSES)
    assert not np.array_equal(a[0].image, other[0].image)
    ood_textures = {item.texture for item in balanced_set(5, 8, OOD_CLASSES)}
    assert ood_textures & set(OOD_TEXTURES) and ood_textures - set(OOD_TEXTURES)  # unseen fills, and seen ones
    assert {item.texture for item in balanced_set(5, 8, CLASSES)}.isdisjoint(OOD_TEXTURES)
    images, labels = sample_batch(np.random.default_rng(0), 16, size=48)
    assert images.shape == (16, 48, 48, 3) and labels.dtype == np.int64 and labels.max() < len(CLASSES)
    with pytest.raises(ValueError, match="unknown class 'blob'"):
        render_shape_image(np.random.default_rng(0), "blob")


def test_data_script_writes_the_documented_layout(tmp_path):
    load_script("make_demo_classifier_data").main(["--out", str(tmp_path), "--per-class", "2",
                                                   "--ood-per-class", "1"])
    assert sorted(p.name for p in (tmp_path / "test").iterdir() if p.is_dir()) == sorted(CLASSES)
    assert sorted(p.name for p in (tmp_path / "ood").iterdir() if p.is_dir()) == sorted(OOD_CLASSES)
    assert (tmp_path / "test" / "classes.txt").read_text().split() == list(CLASSES)
    assert sorted(p.name for p in (tmp_path / "test" / "star").iterdir()) == ["star_0000.png", "star_0001.png"]
    assert [p.name for p in (tmp_path / "ood" / "heart").iterdir()] == ["heart_0000.png"]
    image = cv2.imread(str(tmp_path / "test" / "disc" / "disc_0000.png"), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(tmp_path / "masks" / "test" / "disc" / "disc_0000.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (64, 64, 3) and mask.shape == (64, 64) and set(np.unique(mask)) == {0, 255}
    again = tmp_path / "again"
    load_script("make_demo_classifier_data").main(["--out", str(again), "--per-class", "2", "--ood-per-class", "1"])
    np.testing.assert_array_equal(cv2.imread(str(again / "test" / "disc" / "disc_0000.png")),
                                  cv2.imread(str(tmp_path / "test" / "disc" / "disc_0000.png")))


def test_training_script_resumes_and_writes_a_loadable_classifier(tmp_path):
    threads = torch.get_num_threads()
    train = load_script("train_demo_classifier")
    common = ["--steps", "2", "--batch-size", "4", "--threads", "1", "--save-every", "1", "--eval-every", "1",
              "--validation-per-class", "1", "--test-per-class", "1"]
    train.main(common + ["--out", str(tmp_path / "whole.safetensors")])
    train.main(common + ["--stop-after", "1", "--out", str(tmp_path / "split.safetensors")])
    assert (tmp_path / "split.resume.pth").is_file() and not (tmp_path / "split.safetensors").exists()
    train.main(common + ["--out", str(tmp_path / "split.safetensors")])  # resumes at step 1
    torch.set_num_threads(threads)
    assert not (tmp_path / "split.resume.pth").exists()
    log = [json.loads(line) for line in (tmp_path / "split.log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(np.isfinite(r["loss"]) for r in log)
    meta = json.loads((tmp_path / "split.json").read_text())
    assert meta["steps"] == 2 and meta["class_names"] == list(CLASSES) and 0 <= meta["test_accuracy"] <= 1
    whole = load_demo_classifier(path=tmp_path / "whole.safetensors")
    split = load_demo_classifier(path=tmp_path / "split.safetensors")
    for (name, a), b in zip(whole.model.state_dict().items(), split.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)  # same data, same steps
