"""Loading classifiers: torchvision architectures with random weights, small ViT / Swin, TorchScript
round trips, and every broken file or model, each error naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn
from torchvision.models import SwinTransformer, VisionTransformer

from core.models.class_names import read_class_names, resolve_class_names
from core.models.classifier import ClassifierError, Preprocessing
from core.models.classifier_loading import (
    load_classifier,
    load_torchscript_classifier,
    load_torchvision_classifier,
)
from core.models.torchvision_classifiers import KNOWN_ARCHITECTURES, architecture_kwargs, cam_target


@pytest.fixture(scope="module")
def resnet18_files(tmp_path_factory):
    """A random 5-class resnet18: (model, .pth path, .safetensors path)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    folder = tmp_path_factory.mktemp("resnet")
    torch.save(model.state_dict(), folder / "r18.pth")
    save_file(model.state_dict(), folder / "r18.safetensors")
    return model, folder / "r18.pth", folder / "r18.safetensors"


def _image(seed: int = 0, size: tuple[int, int] = (50, 70)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)


class _SmallNet(nn.Module):
    """conv → ReLU → global average pool → linear head; ``output`` picks what forward returns."""

    def __init__(self, output: str = "logits", num_classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.conv(x))
        z = self.head(a.mean((2, 3)))
        if self.output == "softmax":
            return z.softmax(1)
        if self.output == "map":
            return a
        if self.output == "single":
            return z[:, :1]
        return z


def small_net(num_classes: int) -> nn.Module:
    return _SmallNet(num_classes=num_classes)


@pytest.mark.parametrize("which", [1, 2], ids=["pth", "safetensors"])
def test_resnet18_state_dict_loads_with_classes_from_its_head(resnet18_files, which):
    original, path = resnet18_files[0], resnet18_files[which]
    record = load_classifier("resnet18", path)
    assert record.num_classes == 5 and record.class_names == [f"class {i}" for i in range(5)]
    assert record.preprocessing == Preprocessing()  # ImageNet, 224 px
    assert record.target_layer is record.model.layer4 and record.reshape is None
    assert not record.model.training and record.source == str(path)
    x = record.preprocessing.to_tensor(_image())
    with torch.no_grad():
        torch.testing.assert_close(record.model(x), original(x), rtol=1e-4, atol=1e-5)


def test_class_names_from_json_list_json_object_text_and_list(tmp_path):
    path = tmp_path / "net5.pth"
    torch.save(small_net(5).state_dict(), path)
    names = ["cat", "dog", "bird", "fish", "frog"]
    (tmp_path / "list.json").write_text(json.dumps(names))
    (tmp_path / "index.json").write_text(json.dumps({str(i): ["n0000", n] for i, n in enumerate(names)}))
    (tmp_path / "names.txt").write_text("# classes\n" + "\n".join(names) + "\n\n")
    for given in (tmp_path / "list.json", tmp_path / "index.json", tmp_path / "names.txt"):
        assert read_class_names(given) == names
    assert load_torchvision_classifier(small_net, path, class_names=tmp_path / "names.txt").class_names == names
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    with pytest.raises(ClassifierError, match="three.txt has 3 names but the model .*net5.pth has 5 outputs"):
        load_torchvision_classifier(small_net, path, class_names=tmp_path / "three.txt")
    with pytest.raises(ClassifierError, match="The list of class names has 2 names but the model m.pth has 5"):
        resolve_class_names(["a", "b"], 5, "m.pth")
    (tmp_path / "broken.json").write_text('["a", "b"')
    with pytest.raises(ClassifierError, match="broken.json is not valid JSON"):
        read_class_names(tmp_path / "broken.json")
    (tmp_path / "gap.json").write_text('{"0": "a", "2": "c"}')
    with pytest.raises(ClassifierError, match=r"gap.json has no names for classes \[1\]"):
        read_class_names(tmp_path / "gap.json")
    with pytest.raises(ClassifierError, match="Class names file not found: .*nonames.txt"):
        read_class_names(tmp_path / "nonames.txt")


def test_preprocessing_is_overridable_and_dataparallel_prefix_is_removed(tmp_path):
    original = small_net(4)
    torch.save({"state_dict": {f"module.{k}": v for k, v in original.state_dict().items()}}, tmp_path / "dp.pth")
    custom = Preprocessing(size=48, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    record = load_torchvision_classifier(small_net, tmp_path / "dp.pth", preprocessing=custom)
    assert record.preprocessing == custom and record.num_classes == 4
    torch.testing.assert_close(record.model.head.weight, original.head.weight)
    assert record.target_layer is None and record.layer() is record.model.conv  # unknown model: its last conv


def _small_vit(num_classes: int) -> VisionTransformer:
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
                             num_classes=num_classes)


def _captured(record, image: np.ndarray) -> torch.Tensor:
    """The target layer's output for one image, through the record's reshape if it has one."""
    seen = []
    handle = record.layer().register_forward_hook(lambda module, args, output: seen.append(output))
    with torch.no_grad():
        record.model(record.preprocessing.to_tensor([image, image]))
    handle.remove()
    return record.reshape(seen[0]) if record.reshape else seen[0]


def test_small_vit_gets_its_size_target_layer_and_token_reshape(tmp_path):
    torch.manual_seed(1)
    save_file(_small_vit(4).state_dict(), tmp_path / "vit.safetensors")
    record = load_torchvision_classifier(_small_vit, tmp_path / "vit.safetensors")
    assert record.num_classes == 4 and record.preprocessing.size == 32
    assert record.target_layer is record.model.encoder.layers[-1].ln_1
    assert _captured(record, _image()).shape == (2, 16, 4, 4)  # (B, K, h, w): class token dropped


def test_vit_refuses_an_input_size_it_cannot_take(tmp_path):
    torch.save(_small_vit(3).state_dict(), tmp_path / "vit.pth")
    with pytest.raises(ClassifierError, match="vit.pth cannot take 48×48 inputs.*takes 32×32 inputs"):
        load_torchvision_classifier(_small_vit, tmp_path / "vit.pth", preprocessing=Preprocessing(size=48))


def test_vit_input_size_is_read_from_the_position_embedding():
    state = {"encoder.pos_embedding": torch.zeros(1, 1 + 24 * 24, 8)}
    assert architecture_kwargs("vit_b_16", state) == {"image_size": 384}
    assert architecture_kwargs("vit_l_32", {"encoder.pos_embedding": torch.zeros(1, 50, 8)}) == {"image_size": 224}


def test_small_swin_gets_its_norm_as_target_and_channels_first_reshape(tmp_path):
    def small_swin(num_classes: int) -> SwinTransformer:
        return SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=[2, 2],
                               num_classes=num_classes)

    torch.manual_seed(2)
    torch.save(small_swin(3).state_dict(), tmp_path / "swin.pth")
    record = load_torchvision_classifier(small_swin, tmp_path / "swin.pth", preprocessing=Preprocessing(size=32))
    assert record.num_classes == 3 and record.target_layer is record.model.norm
    assert _captured(record, _image()).shape == (2, 16, 4, 4)  # 32 px / 4 / 2 → 4 × 4, 16 channels


def _script(model: nn.Module, path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(model.eval()).save(str(path))


def test_torchscript_round_trip(tmp_path):
    torch.manual_seed(3)
    model = _SmallNet()
    _script(model, tmp_path / "net.pt")
    record = load_classifier(tmp_path / "net.pt", class_names=["a", "b", "c"],
                             preprocessing=Preprocessing(size=40))
    assert record.class_names == ["a", "b", "c"] and record.target_layer is None
    assert "net.pt" in record.name and record.source == str(tmp_path / "net.pt")
    x = record.preprocessing.to_tensor(_image(4))
    with torch.no_grad():
        torch.testing.assert_close(record.model(x), model(x), rtol=1e-4, atol=1e-5)
    assert load_torchscript_classifier(tmp_path / "net.pt").class_names == ["class 0", "class 1", "class 2"]


@pytest.mark.parametrize("output, message", [
    ("map", r"shape \(2, 8, 224, 224\) for a batch of 2 images, not \(B, C\) logits"),
    ("softmax", "returns probabilities .*without its final softmax"),
    ("single", "returns 1 output per image"),
])
def test_a_model_that_does_not_return_logits_is_refused(tmp_path, output, message):
    _script(_SmallNet(output), tmp_path / f"{output}.pt")
    with pytest.raises(ClassifierError, match=f"{output}.pt.*{message}"):
        load_classifier(tmp_path / f"{output}.pt")


def test_a_model_returning_a_tuple_is_refused(tmp_path):
    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            z = x.mean((2, 3))
            return z, z

    _script(Pair(), tmp_path / "pair.pt")
    with pytest.raises(ClassifierError, match="pair.pt returns a tuple, not a .* tensor of logits"):
        load_classifier(tmp_path / "pair.pt")


def test_an_input_size_the_model_cannot_take_is_found_at_load(tmp_path):
    fixed = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Flatten(), nn.Linear(4 * 16 * 16, 3))
    _script(fixed, tmp_path / "fixed32.pt")
    assert load_classifier(tmp_path / "fixed32.pt", preprocessing=Preprocessing(size=32)).num_classes == 3
    with pytest.raises(ClassifierError, match="fixed32.pt cannot take 224×224 inputs.*Preprocessing\\(size="):
        load_classifier(tmp_path / "fixed32.pt")


def test_torchscript_file_errors_name_the_file(resnet18_files, tmp_path):
    with pytest.raises(ClassifierError, match="r18.pth holds weights .* not a TorchScript model.*resnet18"):
        load_classifier(resnet18_files[1])
    with pytest.raises(ClassifierError, match="r18.safetensors is a safetensors weights file, not a TorchScript"):
        load_classifier(resnet18_files[2])
    _script(_SmallNet(), tmp_path / "whole.pt")
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ClassifierError, match="Cannot load TorchScript file .*cut.pt: it is truncated"):
        load_classifier(tmp_path / "cut.pt")
    with pytest.raises(ClassifierError, match="Classifier file not found: .*absent.pt"):
        load_classifier(tmp_path / "absent.pt")


def test_unknown_architecture_lists_the_known_ones(resnet18_files):
    with pytest.raises(ClassifierError,
                       match="Unknown architecture 'resnet19' for weights .*r18.pth.*resnet18.*vit_b_16"):
        load_classifier("resnet19", resnet18_files[1])
    assert {"resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v3_small", "efficientnet_b0",
            "convnext_tiny", "vit_b_16", "swin_t"} <= set(KNOWN_ARCHITECTURES)
    with pytest.raises(ClassifierError, match="resnet18 needs weights"):
        load_classifier("resnet18")


def test_weights_that_do_not_fit_name_the_first_mismatching_tensors(resnet18_files):
    with pytest.raises(ClassifierError, match=r"r18.pth do not fit resnet50: 24 tensors have other shapes, first: "
                                              r"layer1.0.conv1.weight is \(64, 64, 3, 3\) in the file but "
                                              r"\(64, 64, 1, 1\) in resnet50.*missing from the file, first: "
                                              r"layer1.0.conv3.weight"):
        load_classifier("resnet50", resnet18_files[1])
    with pytest.raises(ClassifierError, match="r18.pth do not fit squeezenet1_1.*not in squeezenet1_1, first: conv1"):
        load_classifier("squeezenet1_1", resnet18_files[1])


def test_broken_weight_files_name_the_file(resnet18_files, tmp_path):
    with pytest.raises(ClassifierError, match="Weights file not found: .*gone.pth"):
        load_classifier("resnet18", tmp_path / "gone.pth")
    data = resnet18_files[1].read_bytes()
    (tmp_path / "half.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ClassifierError, match="Cannot read weights file .*half.pth: the file is truncated, corrupt"):
        load_classifier("resnet18", tmp_path / "half.pth")
    (tmp_path / "junk.safetensors").write_bytes(b"\x07" * 300)
    with pytest.raises(ClassifierError, match="junk.safetensors: the file is truncated, corrupt"):
        load_classifier("resnet18", tmp_path / "junk.safetensors")
    torch.save(nn.Linear(2, 2), tmp_path / "pickled_model.pth")
    with pytest.raises(ClassifierError, match="pickled_model.pth holds Python objects .*model.state_dict\\(\\)"):
        load_classifier("resnet18", tmp_path / "pickled_model.pth")
    state = dict(resnet18_files[0].state_dict())
    state["fc.bias"] = torch.full((5,), float("nan"))
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(ClassifierError, match="nan.pth holds NaN or infinite weights .*fc.bias"):
        load_classifier("resnet18", tmp_path / "nan.pth")


@pytest.mark.parametrize("name, channels, grid", [
    ("resnet18", 512, 7), ("vgg16", 512, 7), ("mobilenet_v3_small", 576, 7), ("convnext_tiny", 768, 7),
    ("vit_b_16", 768, 14), ("swin_t", 768, 7),
])
def test_named_architectures_get_a_target_layer_with_a_channel_map(name, channels, grid):
    """Built and run on the meta device (shapes only, no memory, no arithmetic)."""
    with torch.device("meta"):
        model = torchvision.models.get_model(name, weights=None).eval()
    layer, reshape = cam_target(model)
    seen = []
    layer.register_forward_hook(lambda module, args, output: seen.append(output))
    model(torch.zeros(1, 3, 224, 224, device="meta"))
    assert tuple((reshape(seen[0]) if reshape else seen[0]).shape) == (1, channels, grid, grid)
