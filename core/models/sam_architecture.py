"""SAM architectures: the official ViT-H/L/B, our shipped tiny model, and detection from shapes.

The tiny model swaps SAM's ViT for a small CNN (core.models.tiny_conv_encoder: why is said
there); its state dict holds ``image_encoder.input_size`` and its stage widths are read off the
conv weights.

A checkpoint is a plain state dict, so the variant is read off its tensor shapes: patch size
and embedding width from ``image_encoder.patch_embed.proj.weight`` (embed_dim, 3, p, p), the
image size from ``image_encoder.pos_embed`` (1, g, g, embed_dim), the head count from the
relative-position tables (2·s−1, head_dim) and, from their length, which blocks use global
attention. The mask decoder's head count is not visible in any shape; every SAM variant we
know uses 8, and so do we.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import partial

import torch
from core.models.tiny_conv_encoder import TinyConvEncoder
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)


@dataclass(frozen=True)
class SamArchitecture:
    """Every hyper-parameter needed to build a :class:`segment_anything.modeling.Sam`."""

    name: str
    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    window_size: int
    patch_size: int
    img_size: int
    mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    num_multimask_outputs: int = 3
    encoder_kind: str = "vit"  # "vit" (SAM's ImageEncoderViT) or "conv" (TinyConvEncoder)
    conv_widths: tuple[int, ...] = ()
    conv_stage3_blocks: int = 3
    conv_detail: bool = False
    conv_global_blocks: int = 0

    @property
    def embedding_grid(self) -> int:
        """Side of the square image embedding (64 for official SAM)."""
        return self.img_size // self.patch_size


_OFFICIAL_COMMON = dict(window_size=14, patch_size=16, img_size=1024)
OFFICIAL_ARCHITECTURES: dict[str, SamArchitecture] = {
    "vit_h": SamArchitecture("vit_h", 1280, 32, 16, (7, 15, 23, 31), **_OFFICIAL_COMMON),
    "vit_l": SamArchitecture("vit_l", 1024, 24, 16, (5, 11, 17, 23), **_OFFICIAL_COMMON),
    "vit_b": SamArchitecture("vit_b", 768, 12, 12, (2, 5, 8, 11), **_OFFICIAL_COMMON),
}

# The first tiny model (training stages 1-5 start from it): 256 px input, a stride-8 CNN
# encoder, 32×32 embedding, 128×128 low-res masks.
TINY_SMALL_ARCHITECTURE = SamArchitecture(
    name="tiny_small",
    encoder_embed_dim=96,
    encoder_depth=0,
    encoder_num_heads=0,
    encoder_global_attn_indexes=(),
    window_size=0,
    patch_size=8,
    img_size=256,
    prompt_embed_dim=128,
    decoder_depth=2,
    decoder_mlp_dim=512,
    iou_head_hidden_dim=128,
    encoder_kind="conv",
    conv_widths=(24, 48, 96),
)
# The shipped tiny model: the small one grown (packaging/grow_tiny_sam.py) to wider stages, five
# dilated blocks at stride 8 and stride-2/4 detail; the same decoder, grid and mask size.
TINY_ARCHITECTURE = replace(TINY_SMALL_ARCHITECTURE, name="tiny", encoder_embed_dim=160, conv_widths=(32, 64, 160),
                            conv_stage3_blocks=5, conv_detail=True)

KNOWN_ARCHITECTURES = {**OFFICIAL_ARCHITECTURES, "tiny": TINY_ARCHITECTURE, "tiny_small": TINY_SMALL_ARCHITECTURE}


def build_sam(arch: SamArchitecture) -> Sam:
    """Build an untrained, eval-mode SAM with segment-anything's own classes (as build_sam.py)."""
    grid = arch.embedding_grid
    if arch.encoder_kind == "conv":
        image_encoder = TinyConvEncoder(arch.img_size, arch.conv_widths, arch.prompt_embed_dim,
                                        arch.conv_stage3_blocks, arch.conv_detail, arch.conv_global_blocks)
    else:
        image_encoder = ImageEncoderViT(
            depth=arch.encoder_depth,
            embed_dim=arch.encoder_embed_dim,
            img_size=arch.img_size,
            mlp_ratio=arch.mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=arch.encoder_num_heads,
            patch_size=arch.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=arch.encoder_global_attn_indexes,
            window_size=arch.window_size,
            out_chans=arch.prompt_embed_dim,
        )
    sam = Sam(
        image_encoder=image_encoder,
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(arch.img_size, arch.img_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=arch.num_multimask_outputs,
            transformer=TwoWayTransformer(
                depth=arch.decoder_depth,
                embedding_dim=arch.prompt_embed_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_num_heads,
            ),
            transformer_dim=arch.prompt_embed_dim,
            iou_head_depth=arch.iou_head_depth,
            iou_head_hidden_dim=arch.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


class ArchitectureNotRecognised(ValueError):
    """The state dict lacks a key or shape that every SAM checkpoint has; the text says which."""


def _count_indexed(keys: set[str], pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for k in keys if (m := regex.fullmatch(k))})


def _shape(state: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ArchitectureNotRecognised(f"missing key {key!r}")
    return tuple(state[key].shape)


def architecture_from_state_dict(state: dict[str, torch.Tensor]) -> SamArchitecture:
    """Read a SAM architecture off a state dict's shapes.

    Returns the matching entry of :data:`KNOWN_ARCHITECTURES` when every field agrees, else a
    ``SamArchitecture`` named ``"custom"``. Raises :class:`ArchitectureNotRecognised` when a
    key that every SAM checkpoint has is missing.
    """
    keys = set(state)
    is_conv = "image_encoder.stem.0.weight" in keys
    if not is_conv:
        _shape(state, "image_encoder.patch_embed.proj.weight")  # every ViT SAM has it: say so if missing
    decoder = _decoder_fields(state, keys)
    if is_conv:
        found = SamArchitecture(
            name="custom",
            encoder_kind="conv",
            conv_widths=tuple(_shape(state, f"image_encoder.{n}.0.weight")[0] for n in ("stem", "down2", "down3")),
            conv_stage3_blocks=_count_indexed(keys, r"image_encoder\.stage3\.(\d+)\.body\.0\.0\.weight"),
            conv_detail="image_encoder.detail1.weight" in keys,
            conv_global_blocks=_count_indexed(keys, r"image_encoder\.global_blocks\.(\d+)\.attn\.qkv\.weight"),
            encoder_embed_dim=_shape(state, "image_encoder.down3.0.weight")[0],
            encoder_depth=0,
            encoder_num_heads=0,
            encoder_global_attn_indexes=(),
            window_size=0,
            patch_size=8,
            img_size=_stored_input_size(state),
            prompt_embed_dim=_shape(state, "image_encoder.neck.0.weight")[0],
            **decoder,
        )
        return _known_or(found)
    embed_dim, _, patch, _ = _shape(state, "image_encoder.patch_embed.proj.weight")
    grid = _shape(state, "image_encoder.pos_embed")[1]
    depth = _count_indexed(keys, r"image_encoder\.blocks\.(\d+)\.norm1\.weight")
    head_dim = _shape(state, "image_encoder.blocks.0.attn.rel_pos_h")[1]
    table_lengths = [_shape(state, f"image_encoder.blocks.{i}.attn.rel_pos_h")[0] for i in range(depth)]
    global_indexes = tuple(i for i, n in enumerate(table_lengths) if n == 2 * grid - 1)
    windowed = [n for n in table_lengths if n != 2 * grid - 1]
    window = (windowed[0] + 1) // 2 if windowed else 0
    mlp_hidden = _shape(state, "image_encoder.blocks.0.mlp.lin1.weight")[0]
    out_chans = _shape(state, "image_encoder.neck.0.weight")[0]
    found = SamArchitecture(
        name="custom",
        encoder_embed_dim=embed_dim,
        encoder_depth=depth,
        encoder_num_heads=embed_dim // head_dim,
        encoder_global_attn_indexes=global_indexes if window else tuple(range(depth)),
        window_size=window,
        patch_size=patch,
        img_size=grid * patch,
        mlp_ratio=mlp_hidden / embed_dim,
        prompt_embed_dim=out_chans,
        **decoder,
    )
    return _known_or(found)


def _stored_input_size(state: dict[str, torch.Tensor]) -> int:
    """The input side a TinyConvEncoder checkpoint stores (a CNN's shapes do not reveal it)."""
    _shape(state, "image_encoder.input_size")  # raises ArchitectureNotRecognised, naming the key
    return int(state["image_encoder.input_size"][0])


def _decoder_fields(state: dict[str, torch.Tensor], keys: set[str]) -> dict[str, int]:
    """The mask decoder's hyper-parameters, read off its shapes."""
    return dict(
        decoder_depth=_count_indexed(keys, r"mask_decoder\.transformer\.layers\.(\d+)\.norm1\.weight"),
        decoder_mlp_dim=_shape(state, "mask_decoder.transformer.layers.0.mlp.lin1.weight")[0],
        iou_head_depth=_count_indexed(keys, r"mask_decoder\.iou_prediction_head\.layers\.(\d+)\.weight"),
        iou_head_hidden_dim=_shape(state, "mask_decoder.iou_prediction_head.layers.0.weight")[0],
        num_multimask_outputs=_shape(state, "mask_decoder.mask_tokens.weight")[0] - 1,
    )


def _known_or(found: SamArchitecture) -> SamArchitecture:
    """The known architecture equal to ``found`` in every field but the name, else ``found``."""
    for known in KNOWN_ARCHITECTURES.values():
        if replace(found, name=known.name) == known:
            return known
    return found
