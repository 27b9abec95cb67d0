"""Loading checkpoints: real architectures, randomly initialised, and every broken file."""

from __future__ import annotations

import pytest
import torch

from core.models.checkpoint import CheckpointError, load_sam, read_state_dict
from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, TINY_ARCHITECTURE, build_sam


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_random.pth"
    torch.save(build_sam(TINY_ARCHITECTURE).state_dict(), path)
    return path


def test_random_vit_b_loads_from_a_file_and_is_detected(tmp_path):
    torch.manual_seed(0)
    original = build_sam(OFFICIAL_ARCHITECTURES["vit_b"])
    path = tmp_path / "sam_vit_b_random.pth"
    torch.save(original.state_dict(), path)
    sam, identity = load_sam(path)
    assert identity.variant == "vit_b"
    assert len(identity.weights_sha256) == 64
    key = "mask_decoder.iou_prediction_head.layers.0.weight"
    assert torch.equal(sam.state_dict()[key], original.state_dict()[key])


def test_wrapped_state_dict_is_unwrapped(tiny_file, tmp_path):
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": torch.load(tiny_file)}, wrapped)
    assert load_sam(wrapped)[1].variant == "tiny"


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*nothere.pth"):
        load_sam(tmp_path / "nothere.pth")


def test_truncated_file_says_it_is_damaged(tiny_file, tmp_path):
    broken = tmp_path / "truncated.pth"
    broken.write_bytes(tiny_file.read_bytes()[: tiny_file.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pth.*truncated, corrupt"):
        load_sam(broken)


def test_random_bytes_are_rejected(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00not a checkpoint" * 100)
    with pytest.raises(CheckpointError, match="junk.pth"):
        read_state_dict(junk)


def test_foreign_model_is_named_as_not_sam(tmp_path):
    foreign = tmp_path / "resnet.pth"
    torch.save(torch.nn.Conv2d(3, 8, 3).state_dict(), foreign)
    with pytest.raises(CheckpointError, match="resnet.pth is not a Segment Anything model.*weight"):
        load_sam(foreign)


def test_non_dict_pickle_is_rejected(tmp_path):
    odd = tmp_path / "list.pth"
    torch.save([1, 2, 3], odd)
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        load_sam(odd)


def test_variant_mismatch_says_what_was_found_and_expected(tiny_file):
    with pytest.raises(CheckpointError, match="holds a tiny model.*vit_h was asked for"):
        load_sam(tiny_file, expected_variant="vit_h")


def test_tensor_that_does_not_fit_is_reported(tiny_file, tmp_path):
    state = torch.load(tiny_file)
    state["mask_decoder.output_upscaling.0.weight"] = torch.zeros(1, 2, 3)
    bad = tmp_path / "edited.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="edited.pth looks like tiny but its tensors do not fit"):
        load_sam(bad)


def test_safetensors_checkpoints_load_and_match(tiny_file, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(tiny_file)
    for name in ("tiny.safetensors", "tiny_no_suffix.bin"):  # by suffix, or by the file's own header
        save_file(state, tmp_path / name)
        sam, identity = load_sam(tmp_path / name)
        assert identity.variant == "tiny"
        key = "mask_decoder.iou_prediction_head.layers.0.weight"
        assert torch.equal(sam.state_dict()[key], state[key])


def test_truncated_safetensors_is_reported(tiny_file, tmp_path):
    from safetensors.torch import save_file

    save_file(torch.load(tiny_file), tmp_path / "whole.safetensors")
    data = (tmp_path / "whole.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="cut.safetensors: the file is truncated, corrupt"):
        load_sam(tmp_path / "cut.safetensors")


def test_nan_weights_are_refused_naming_the_tensor(tiny_file, tmp_path):
    state = torch.load(tiny_file)
    state["mask_decoder.iou_token.weight"][0, 3] = float("nan")
    torch.save(state, tmp_path / "diverged.pth")
    with pytest.raises(CheckpointError, match="diverged.pth holds NaN or infinite weights .*mask_decoder.iou_token"):
        load_sam(tmp_path / "diverged.pth")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch '{self.marker}'",)


def test_a_checkpoint_with_code_in_it_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"model": {"w": torch.zeros(2)}, "extra": _Payload(marker)}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="evil.pth"):
        load_sam(tmp_path / "evil.pth")
    assert not marker.exists()
