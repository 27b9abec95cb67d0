"""The shipped tiny SAM's image encoder: a small residual CNN in place of SAM's ViT.

Why not a small ImageEncoderViT: at the stride SAM's masks need to be sharp on 256 px inputs
(8 px, a 32×32 embedding and 128×128 low-res masks), a ViT attends over 1024 tokens and costs
about 4 s per batch of 8 on the 2-core CPU the project trains on; this CNN reaches stride 8
for a fraction of that. At stride 16 a tiny ViT trained about as slowly as this CNN per step
(mean IoU 0.16 with one click after 700 steps) with masks half as fine. The rest
of the model is segment-anything's own PromptEncoder and MaskDecoder, and the module keeps the
contract SAM relies on: an ``img_size`` attribute and (B, 3, S, S) → (B, C, S/8, S/8).
"""

from __future__ import annotations

import torch
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.image_encoder import Block
from torch import nn


def _conv_norm_act(in_chans: int, out_chans: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_chans),
        nn.GELU(),
    )


class ResidualBlock(nn.Module):
    """x + bn(conv(act(bn(conv(x))))), both convs 3×3 with the given dilation.

    BatchNorm rather than SAM's LayerNorm2d: on the CPU, LayerNorm2d's composed mean/var ops
    at 128×128 cost more than the convolutions themselves; BatchNorm is one fused op.
    """

    def __init__(self, chans: int, dilation: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_norm_act(chans, chans, dilation=dilation),
            nn.Conv2d(chans, chans, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def stage3_dilation(index: int) -> int:
    """Dilation of the index-th block of the last stage: 1, 2, 4, 8, 1, 2, … (three blocks: 1, 2, 4)."""
    return 2 ** (index % 4)


class TinyConvEncoder(nn.Module):
    """Stride-8 residual CNN: three stride-2 stages, dilated blocks at the last, SAM-style neck.

    img_size: side of the square padded input (256). widths: channels of the three stages.
    out_chans: channels of the embedding (the prompt embedding width). stage3_blocks: residual
    blocks at stride 8 (dilations from :func:`stage3_dilation`). detail: also add the stride-2
    and stride-4 features, folded onto the stride-8 grid (space-to-depth convs ``detail1``,
    ``detail2``), to the embedding before the neck's norm, so each 8×8 cell carries the
    sub-cell shape its 4×4 patch of the low-res mask needs. global_blocks: segment-anything ViT
    blocks (global attention, no positional terms, one head per 32 channels, MLP ratio 2) over
    the stride-8 tokens after the last stage, so a part of an object sees its other parts (a
    ring, a long stroke, a striped shape) beyond the convolutions' reach.
    Input (B, 3, img_size, img_size) normalised pixels → output (B, out_chans, img_size/8, img_size/8).
    """

    def __init__(self, img_size: int = 256, widths: tuple[int, int, int] = (24, 48, 96), out_chans: int = 128,
                 stage3_blocks: int = 3, detail: bool = False, global_blocks: int = 0) -> None:
        super().__init__()
        self.img_size = img_size
        # stored in the state dict, so a checkpoint says its own input size
        self.register_buffer("input_size", torch.tensor([img_size]))
        w1, w2, w3 = widths
        self.stem = _conv_norm_act(3, w1, stride=2)
        self.stage1 = ResidualBlock(w1)
        self.down2 = _conv_norm_act(w1, w2, stride=2)
        self.stage2 = ResidualBlock(w2)
        self.down3 = _conv_norm_act(w2, w3, stride=2)
        self.stage3 = nn.Sequential(*(ResidualBlock(w3, stage3_dilation(i)) for i in range(stage3_blocks)))
        self.neck = nn.Sequential(nn.Conv2d(w3, out_chans, 1, bias=False), LayerNorm2d(out_chans))
        if detail:
            self.detail1 = nn.Conv2d(w1, out_chans, 4, stride=4, bias=False)
            self.detail2 = nn.Conv2d(w2, out_chans, 2, stride=2, bias=False)
        self.has_detail = detail
        if global_blocks:
            self.global_blocks = nn.Sequential(*(Block(w3, max(1, w3 // 32), mlp_ratio=2.0) for _ in range(global_blocks)))
        self.n_global_blocks = global_blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.stage1(self.stem(x))
        x2 = self.stage2(self.down2(x1))
        x = self.stage3(self.down3(x2))
        if self.n_global_blocks:
            x = self.global_blocks(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # blocks take (B, H, W, C)
        x = self.neck[0](x)
        if self.has_detail:
            x = x + self.detail1(x1) + self.detail2(x2)
        return self.neck[1](x)
