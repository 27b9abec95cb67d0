"""The SAM engine: embed an image once, then decode point prompts against it many times.

Coordinates: points are (x, y) in *image* pixels (column, row of the image the user sees);
masks are (H, W) arrays in the image's own size. The engine maps points into SAM's input
frame and masks back exactly as ``segment_anything.SamPredictor`` does, so for the same inputs
``decode`` returns the same masks as ``SamPredictor.predict`` (a test checks this).
What the predictor cannot do, and this engine adds: cached embeddings (memory and disk),
a batch of prompt sets in one decoder call, and decoding with gradients enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from core.models.checkpoint import ModelIdentity, load_sam, load_tiny_sam
from core.models.device import autocast, device_description, effective_precision, select_device
from core.models.embedding_cache import EmbeddingCache, ImageEmbedding, default_cache_dir, image_content_hash
from core.models.prompt_decoding import decode_low_res


class PromptError(ValueError):
    """A prompt set SAM cannot take (empty, outside the image, mismatched labels)."""


@dataclass
class Decoded:
    """SAM's answer to one prompt set.

    masks: (M, H, W) bool at image resolution, M = 3 with multimask output, else 1.
    low_res_logits: (M, 4g, 4g) float32 (256×256 for official SAM), reusable as mask input.
    predicted_iou: (M,) float32, SAM's own quality estimate of each mask.
    """

    masks: np.ndarray
    low_res_logits: np.ndarray
    predicted_iou: np.ndarray


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"embed expects an (H, W, 3) uint8 RGB image, got shape {image.shape} and dtype {image.dtype}; "
            "read images with core.io.images.read_image, which converts them"
        )


class SamEngine:
    """A loaded SAM on a device, with an embedding cache.

    precision: "fp32", or "bf16"/"fp16" autocast for the image encoder on CUDA (fp32 elsewhere).
    """

    def __init__(
        self,
        sam: Sam,
        identity: ModelIdentity,
        device: str | torch.device | None = "auto",
        precision: str = "fp32",
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.device = select_device(device) if not isinstance(device, torch.device) else device
        self.precision = effective_precision(self.device, precision)
        self.sam = sam.to(self.device).eval()
        for parameter in self.sam.parameters():
            parameter.requires_grad_(False)
        self.identity = identity
        self.cache = cache if cache is not None else EmbeddingCache(directory=None)
        self.transform = ResizeLongestSide(self.sam.image_encoder.img_size)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None = None,
        variant: str | None = None,
        device: str | None = "auto",
        precision: str = "fp32",
        cache_dir: Path | None | bool = True,
    ) -> "SamEngine":
        """Load a checkpoint (None: the shipped tiny SAM). cache_dir True uses the default
        user cache folder, False or None keeps embeddings in memory only."""
        sam, identity = load_tiny_sam() if path is None else load_sam(path, expected_variant=variant)
        directory = default_cache_dir() if cache_dir is True else (cache_dir or None)
        return cls(sam, identity, device, precision, EmbeddingCache(directory=directory))

    @property
    def description(self) -> str:
        """E.g. ``tiny-1a2b3c4d5e6f on cpu, fp32``."""
        return f"{self.identity.key} on {device_description(self.device)}, {self.precision}"

    @property
    def low_res_size(self) -> int:
        """Side of the low-res logits (256 for official SAM)."""
        return 4 * self.sam.prompt_encoder.image_embedding_size[0]

    def embedding_key(self, image: np.ndarray) -> str:
        """Cache key of ``image`` under this model and precision."""
        return f"{image_content_hash(image)[:32]}-{self.identity.key}-{self.precision}"

    def cached_embedding(self, image: np.ndarray) -> ImageEmbedding | None:
        """The cached embedding of ``image``, or None without computing anything."""
        found = self.cache.get(self.embedding_key(image))
        return found.to(self.device) if found is not None else None

    @torch.no_grad()
    def embed(self, image: np.ndarray) -> ImageEmbedding:
        """Embed an (H, W, 3) uint8 RGB image (cached), as ``SamPredictor.set_image`` does."""
        _check_image(image)
        cached = self.cached_embedding(image)
        if cached is not None:
            return cached
        resized = self.transform.apply_image(image)
        tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
        with autocast(self.device, self.precision):
            features = self.sam.image_encoder(self.sam.preprocess(tensor))
        embedding = ImageEmbedding(features.float(), tuple(image.shape[:2]), tuple(tensor.shape[-2:]),
                                   self.embedding_key(image))
        self.cache.put(embedding)
        return embedding

    def prompt_tensors(
        self, embedding: ImageEmbedding, points: np.ndarray, labels: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate (B, N, 2) points (x, y) and (B, N) labels; map to the input frame."""
        points = np.asarray(points, dtype=np.float64)
        labels = np.asarray(labels)
        if points.ndim != 3 or points.shape[-1] != 2 or labels.shape != points.shape[:2]:
            raise PromptError(f"points must be (B, N, 2) (x, y) and labels (B, N); got {points.shape} and {labels.shape}")
        if points.shape[1] == 0:
            raise PromptError("the prompt set is empty: add at least one inclusion or exclusion point")
        if not np.isin(labels, (0, 1)).all():
            raise PromptError("labels must be 1 (inclusion) or 0 (exclusion)")
        height, width = embedding.original_size
        outside = (points[..., 0] < 0) | (points[..., 0] >= width) | (points[..., 1] < 0) | (points[..., 1] >= height)
        if outside.any():
            x, y = points[outside][0]
            raise PromptError(f"point ({x:g}, {y:g}) lies outside the {width}×{height} image (x, y)")
        coords = self.transform.apply_coords(points, embedding.original_size)
        return (torch.as_tensor(coords, dtype=torch.float, device=self.device),
                torch.as_tensor(labels, dtype=torch.int, device=self.device))

    def decode_torch(
        self,
        embedding: ImageEmbedding,
        points: np.ndarray,
        labels: np.ndarray,
        mask_input: torch.Tensor | np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode B prompt sets of N points each in one decoder call, keeping the autograd graph.

        points: (B, N, 2) (x, y) image pixels; labels: (B, N) 1/0.
        mask_input: optional (B, 1, 4g, 4g) low-res logits.
        Returns (mask_logits (B, M, H, W) at image size, low_res_logits (B, M, 4g, 4g),
        predicted_iou (B, M)). Gradients flow to ``embedding.features`` (and any tensor
        input) when called under ``torch.enable_grad()`` with inputs that require them.
        """
        coords, label_tensor = self.prompt_tensors(embedding, points, labels)
        if mask_input is not None:
            mask_input = torch.as_tensor(mask_input, dtype=torch.float, device=self.device)
        low_res, iou = decode_low_res(self.sam, embedding.features, coords, label_tensor, mask_input, multimask_output)
        logits = self.sam.postprocess_masks(low_res, embedding.input_size, embedding.original_size)
        return logits, low_res, iou

    @torch.no_grad()
    def decode(
        self,
        embedding: ImageEmbedding,
        points: np.ndarray,
        labels: np.ndarray,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> Decoded:
        """Decode one prompt set: points (N, 2) (x, y) image pixels, labels (N,) 1/0,
        mask_input optional (1, 4g, 4g) low-res logits. Same masks as ``SamPredictor.predict``.
        In two stages, :meth:`decode_logits` then :meth:`upscale_masks`, which the app calls
        apart to show one candidate before the others are upscaled."""
        low_res, iou = self.decode_logits(embedding, points, labels, mask_input, multimask_output)
        return Decoded(self.upscale_masks(embedding, low_res), low_res.cpu().numpy(), iou)

    @torch.no_grad()
    def decode_logits(
        self,
        embedding: ImageEmbedding,
        points: np.ndarray,
        labels: np.ndarray,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Stage one of :meth:`decode`: points (N, 2) (x, y) image pixels, labels (N,) 1/0 and an
        optional (1, 4g, 4g) mask input → (low-res logits (M, 4g, 4g), a tensor on the engine's
        device; predicted IoU (M,) float32)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        coords, label_tensor = self.prompt_tensors(embedding, points[None], np.asarray(labels).reshape(1, -1))
        if mask_input is not None:
            mask_input = torch.as_tensor(np.asarray(mask_input, dtype=np.float32)[None], device=self.device)
        low_res, iou = decode_low_res(self.sam, embedding.features, coords, label_tensor, mask_input, multimask_output)
        return low_res[0], iou[0].cpu().numpy()

    @torch.no_grad()
    def upscale_masks(self, embedding: ImageEmbedding, low_res: torch.Tensor) -> np.ndarray:
        """Stage two of :meth:`decode`: (K, 4g, 4g) low-res logits → (K, H, W) bool masks at image
        size, upscaled and thresholded as ``SamPredictor.predict`` does. Each mask depends on its
        own logits only, so upscaling one of them gives bitwise the mask that upscaling all gives:
        the app paints the chosen candidate before it upscales the others (0.4 vs 1.1 ms, tiny SAM)."""
        logits = self.sam.postprocess_masks(low_res[None], embedding.input_size, embedding.original_size)[0]
        return (logits > self.sam.mask_threshold).cpu().numpy()

    @torch.no_grad()
    def decode_batch(
        self, embedding: ImageEmbedding, points: np.ndarray, labels: np.ndarray, multimask_output: bool = True
    ) -> list[Decoded]:
        """Decode B prompt sets of equal length N in one decoder call (jitter, leave-one-out).

        points: (B, N, 2) (x, y); labels: (B, N). Returns B :class:`Decoded`.
        """
        logits, low_res, iou = self.decode_torch(embedding, points, labels, None, multimask_output)
        masks = (logits > self.sam.mask_threshold).cpu().numpy()
        return [Decoded(masks[b], low_res[b].cpu().numpy(), iou[b].cpu().numpy()) for b in range(len(masks))]
