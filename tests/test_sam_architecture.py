"""Variant detection from state-dict shapes, for every real SAM architecture."""

from __future__ import annotations

import pytest
import torch

from core.models.sam_architecture import (
    OFFICIAL_ARCHITECTURES,
    TINY_ARCHITECTURE,
    ArchitectureNotRecognised,
    SamArchitecture,
    architecture_from_state_dict,
    build_sam,
)


def meta_state_dict(arch: SamArchitecture) -> dict[str, torch.Tensor]:
    """The state dict of a real architecture with shapes only (no memory, no init time)."""
    with torch.device("meta"):
        return build_sam(arch).state_dict()


@pytest.mark.parametrize("name", ["vit_h", "vit_l", "vit_b"])
def test_official_variants_are_detected_from_shapes(name):
    assert architecture_from_state_dict(meta_state_dict(OFFICIAL_ARCHITECTURES[name])).name == name


def test_official_vit_h_has_the_published_size():
    state = meta_state_dict(OFFICIAL_ARCHITECTURES["vit_h"])
    n_params = sum(t.numel() for t in state.values())
    assert 630e6 < n_params < 645e6  # SAM ViT-H: 636M parameters


def test_tiny_is_detected_and_differs_from_official():
    found = architecture_from_state_dict(build_sam(TINY_ARCHITECTURE).state_dict())
    assert found == TINY_ARCHITECTURE
    assert found.encoder_kind == "conv" and found.embedding_grid == 32


def test_other_conv_widths_are_custom_and_rebuild_exactly():
    arch = SamArchitecture("x", 64, 0, 0, (), 0, 8, 128, prompt_embed_dim=64, encoder_kind="conv",
                           conv_widths=(16, 32, 64))
    state = build_sam(arch).state_dict()
    found = architecture_from_state_dict(state)
    assert found.name == "custom" and found.conv_widths == (16, 32, 64) and found.img_size == 128
    build_sam(found).load_state_dict(state)


def test_unknown_configuration_is_custom_with_its_real_numbers():
    arch = SamArchitecture("x", 96, 3, 3, (1,), 4, 16, 128, prompt_embed_dim=64, decoder_mlp_dim=256,
                           iou_head_hidden_dim=64)
    found = architecture_from_state_dict(meta_state_dict(arch))
    assert found.name == "custom"
    assert (found.encoder_embed_dim, found.encoder_depth, found.encoder_num_heads) == (96, 3, 3)
    assert (found.window_size, found.encoder_global_attn_indexes, found.img_size) == (4, (1,), 128)


def test_foreign_state_dict_names_the_missing_key():
    with pytest.raises(ArchitectureNotRecognised, match="patch_embed"):
        architecture_from_state_dict({"conv1.weight": torch.zeros(3)})
