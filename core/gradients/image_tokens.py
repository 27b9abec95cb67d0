"""SAM's mask decoder run with its image tokens exposed, for gradients at inference.

The activation every SAM map is built on is ``A``: the image tokens after the two-way
transformer's last block, (B, C, g, g) (C = 256, g = 64 for official SAM; 128 and 32 for the
tiny model). Everything the masks depend on downstream of the image embedding goes through
it: the final token→image attention (and so the hypernetworks' weights) and the upscaling.
Only the prompt encoder and mask decoder run (the image embedding is cached), with the mask
decoder's parameters as differentiable inputs (``torch.func.functional_call``), so gradients
with respect to them (Purview's per-layer features) come from the same graph; the model
itself is not changed (its parameters keep ``requires_grad=False``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from segment_anything.modeling import Sam

from core.models.prompt_decoding import encode_prompts


@dataclass
class DecoderPass:
    """One differentiable decoder call on B prompt sets.

    low_res: (B, M, 4g, 4g) mask logits (M = 3 multimask outputs); predicted_iou: (B, M);
    tokens: the image tokens as the decoder uses them, (B, g·g, C), in the graph (take
    gradients with respect to this tensor, then :meth:`grid` them); grid_size: (g, g);
    parameters: the mask decoder's parameters by name (inputs of the graph when the pass was
    run with ``parameter_gradients=True``).
    """

    low_res: torch.Tensor
    predicted_iou: torch.Tensor
    tokens: torch.Tensor
    grid_size: tuple[int, int]
    parameters: dict[str, torch.Tensor]

    def grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., g·g, C) token values or gradients → (..., C, g, g) on the image grid."""
        return tokens.transpose(-1, -2).reshape(*tokens.shape[:-2], tokens.shape[-1], *self.grid_size)

    @property
    def image_tokens(self) -> torch.Tensor:
        """A: (B, C, g, g), detached."""
        return self.grid(self.tokens.detach())


def decode_with_image_tokens(
    sam: Sam,
    embedding: torch.Tensor,
    coords: torch.Tensor,
    labels: torch.Tensor,
    parameter_gradients: bool = False,
) -> DecoderPass:
    """Decode B prompt sets against one (1, C, g, g) embedding with the graph kept.

    coords: (B, N, 2) (x, y) in SAM's input frame; labels: (B, N), 1 inclusion, 0 exclusion,
    -1 padding (a prompt set shorter than N). Multimask output (M = 3).
    """
    decoder = sam.mask_decoder
    parameters = {name: p.detach().requires_grad_(parameter_gradients) for name, p in decoder.named_parameters()}
    captured: list[torch.Tensor] = []

    def keep_image_tokens(_module, _inputs, output):
        queries, keys = output
        if not keys.requires_grad:  # nothing upstream needs gradients: start the graph here
            keys = keys.detach().requires_grad_(True)
        captured.append(keys)
        return queries, keys

    hook = decoder.transformer.layers[-1].register_forward_hook(keep_image_tokens)
    try:
        with torch.enable_grad():
            sparse, dense = encode_prompts(sam, coords, labels)
            low_res, iou = torch.func.functional_call(decoder, parameters, (), dict(
                image_embeddings=embedding, image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True))
    finally:
        hook.remove()
    return DecoderPass(low_res, iou, captured[0], tuple(sam.prompt_encoder.image_embedding_size), parameters)
