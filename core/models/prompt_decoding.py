"""The differentiable core of SAM's prompt path, shared by the engine and the training script.

Everything here works in SAM's *input frame*: the image resized so its longest side is
``img_size`` (1024 for official SAM, 256 for the tiny model), top-left aligned, then padded.
Points are (x, y) in that frame, exactly as ``SamPredictor.predict_torch`` expects them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam


def encode_prompts(
    sam: Sam, coords: torch.Tensor | None, labels: torch.Tensor | None, mask_input: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's prompt encoder on (B, N, 2) points (x, y, input frame) with (B, N) labels (both None:
    no points) and an optional (B, 1, 4g, 4g) mask input → (sparse (B, N+1, C), dense (B, C, g, g))."""
    points = (coords, labels) if coords is not None else None
    return sam.prompt_encoder(points=points, boxes=None, masks=mask_input)


def image_and_dense(embedding: torch.Tensor, dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's (image embedding, dense prompt embedding) pair for one image or one image per prompt set.

    embedding: (1, C, g, g), one image for all B prompt sets, or (B, C, g, g), prompt set b on
    image b; dense: (B, C, g, g). SAM's decoder repeats a single image embedding once per prompt
    set and adds the dense prompt embedding to each copy; adding each prompt set's own image here
    and handing the decoder a zero image gives the same sums (x + 0 is exact), so prompt sets on
    different images decode in one call.
    """
    if embedding.shape[0] == 1:
        return embedding, dense
    return embedding.new_zeros((1, *embedding.shape[1:])), dense + embedding


def decode_low_res(
    sam: Sam,
    embedding: torch.Tensor,
    coords: torch.Tensor | None,
    labels: torch.Tensor | None,
    mask_input: torch.Tensor | None = None,
    multimask_output: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the prompt encoder and mask decoder for a batch of prompt sets on one image (or one image each).

    embedding: (1, C, g, g) image embedding, or (B, C, g, g): prompt set b on image b
        (:func:`image_and_dense`).
    coords: (B, N, 2) float points (x, y) in the input frame; labels: (B, N) with 1 for
        inclusion, 0 for exclusion, -1 for padding. Both None for a prompt-free decode.
    mask_input: optional (B, 1, 4g, 4g) low-res logits of a previous prediction.
    Returns (low_res_logits (B, M, 4g, 4g), predicted_iou (B, M)), M = 3 with multimask
    output, else 1. Gradients flow when the caller enables them, as in
    ``SamPredictor.predict_torch`` minus its ``no_grad``.
    """
    sparse, dense = encode_prompts(sam, coords, labels, mask_input)
    embedding, dense = image_and_dense(embedding, dense)
    return sam.mask_decoder(
        image_embeddings=embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output,
    )


def upscale_to_input_frame(sam: Sam, low_res_logits: torch.Tensor) -> torch.Tensor:
    """(B, M, 4g, 4g) low-res logits → (B, M, img_size, img_size) logits, bilinear as SAM does."""
    size = sam.image_encoder.img_size
    return F.interpolate(low_res_logits, (size, size), mode="bilinear", align_corners=False)
