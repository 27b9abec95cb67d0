"""Grow a trained tiny SAM's image encoder without changing what it computes (Net2Net-style).

    python packaging/grow_tiny_sam.py IN.pth --widths 32 64 160 --stage3-blocks 5 --detail [--global-blocks 2] --out OUT.pth

The grown model gives the same embedding as the original (up to float rounding), so training
continues from where the small one stood instead of from scratch, with room to learn more:
- wider stages: the new channels' incoming weights are random (PyTorch's default
  initialisation), every weight from a new channel into an old one is zero;
- more residual blocks at stride 8: their last BatchNorm starts at zero, so each starts as the
  identity;
- ``--detail``: the stride-2 and stride-4 features folded onto the stride-8 grid
  (TinyConvEncoder's ``detail1``/``detail2``), starting at zero;
- ``--global-blocks N``: global-attention blocks after the last stage, whose output projection
  and last MLP layer start at zero, so each starts as the identity.
Zero weights still get gradients (their inputs are not zero), so all of it trains. The prompt
encoder and mask decoder are copied unchanged. The output is a plain SAM state dict, loaded by
the same code as any checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.atomic import atomic_torch_save  # noqa: E402
from core.models.sam_architecture import architecture_from_state_dict, build_sam  # noqa: E402

_ENCODER = "image_encoder."


def grow_tiny_sam(state: dict[str, torch.Tensor], widths: tuple[int, int, int], stage3_blocks: int,
                  detail: bool, seed: int = 0, global_blocks: int = 0) -> dict[str, torch.Tensor]:
    """A state dict of the grown architecture computing the same function as ``state``.

    state: a tiny SAM (conv encoder) state dict; widths must be ≥ its stage widths and
    stage3_blocks ≥ its block count, global_blocks ≥ its global-attention block count (which
    need its stage-3 width kept). seed: for the new channels' random incoming weights.
    """
    old = architecture_from_state_dict(state)
    if old.encoder_kind != "conv":
        raise ValueError("only a tiny SAM (conv image encoder) can be grown")
    if (any(n < o for n, o in zip(widths, old.conv_widths)) or stage3_blocks < old.conv_stage3_blocks
            or global_blocks < old.conv_global_blocks):
        raise ValueError(f"cannot shrink {old.conv_widths} × {old.conv_stage3_blocks} blocks "
                         f"(+{old.conv_global_blocks} global) to {widths} × {stage3_blocks} (+{global_blocks})")
    if old.conv_global_blocks and widths[2] != old.conv_widths[2]:
        raise ValueError("global-attention blocks cannot be widened; keep the stage-3 width")
    torch.manual_seed(seed)
    grown_arch = replace(old, name="custom", conv_widths=tuple(widths), conv_stage3_blocks=stage3_blocks,
                         conv_detail=detail or old.conv_detail, conv_global_blocks=global_blocks)
    grown = build_sam(grown_arch).state_dict()
    for key, value in state.items():
        target = grown[key]
        if target.shape == value.shape:
            target.copy_(value)
            continue
        leading = tuple(slice(0, n) for n in value.shape)
        if value.dim() >= 2:  # conv weight (out, in, k, k): old outputs must not read new inputs
            target[: value.shape[0], value.shape[1] :] = 0
        target[leading] = value
    for index in range(old.conv_stage3_blocks, stage3_blocks):  # new blocks start as the identity
        grown[f"{_ENCODER}stage3.{index}.body.2.weight"].zero_()
        grown[f"{_ENCODER}stage3.{index}.body.2.bias"].zero_()
    for index in range(old.conv_global_blocks, global_blocks):
        for name in ("attn.proj.weight", "attn.proj.bias", "mlp.lin2.weight", "mlp.lin2.bias"):
            grown[f"{_ENCODER}global_blocks.{index}.{name}"].zero_()
    if detail and not old.conv_detail:
        grown[f"{_ENCODER}detail1.weight"].zero_()
        grown[f"{_ENCODER}detail2.weight"].zero_()
    return grown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--widths", type=int, nargs=3, required=True, metavar=("W1", "W2", "W3"))
    parser.add_argument("--stage3-blocks", type=int, required=True)
    parser.add_argument("--detail", action="store_true")
    parser.add_argument("--global-blocks", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    grown = grow_tiny_sam(state, tuple(args.widths), args.stage3_blocks, args.detail, args.seed, args.global_blocks)
    atomic_torch_save(grown, args.out)
    print(f"{sum(v.numel() for v in state.values()) / 1e6:.2f}M → {sum(v.numel() for v in grown.values()) / 1e6:.2f}M "
          f"values, written to {args.out}")


if __name__ == "__main__":
    main()
