"""SamEngine against segment-anything's own SamPredictor, caches, batches and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything import SamPredictor

from core.models.checkpoint import ModelIdentity, load_tiny_sam
from core.models.embedding_cache import EmbeddingCache
from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, TINY_ARCHITECTURE, build_sam
from core.models.sam_engine import PromptError, SamEngine
from core.synthetic.scenes import render_scene

POINTS = np.array([[40, 30], [120, 90], [200, 35]])
LABELS = np.array([1, 0, 1])


def random_model(arch):
    torch.manual_seed(7)
    return build_sam(arch)


def scene_image(height=180, width=240):
    return render_scene(np.random.default_rng(3), height, width).image


def assert_matches_predictor(engine: SamEngine, predictor: SamPredictor, image: np.ndarray):
    embedding = engine.embed(image)
    predictor.set_image(image)
    assert torch.equal(embedding.features, predictor.features)
    assert embedding.input_size == predictor.input_size and embedding.original_size == predictor.original_size
    for multimask in (True, False):
        ours = engine.decode(embedding, POINTS, LABELS, multimask_output=multimask)
        masks, scores, low_res = predictor.predict(POINTS, LABELS, multimask_output=multimask)
        np.testing.assert_array_equal(ours.masks, masks)
        np.testing.assert_array_equal(ours.predicted_iou, scores)
        np.testing.assert_array_equal(ours.low_res_logits, low_res)
        # in two stages, one candidate at a time (the app paints the chosen one first)
        logits, predicted = engine.decode_logits(embedding, POINTS, LABELS, multimask_output=multimask)
        np.testing.assert_array_equal(predicted, scores)
        for k in range(len(masks)):
            np.testing.assert_array_equal(engine.upscale_masks(embedding, logits[k:k + 1])[0], masks[k])
    # with the previous low-res logits as mask input
    previous = ours.low_res_logits[0:1]
    ours = engine.decode(embedding, POINTS[:2], LABELS[:2], previous, multimask_output=False)
    masks, _, _ = predictor.predict(POINTS[:2], LABELS[:2], mask_input=previous, multimask_output=False)
    np.testing.assert_array_equal(ours.masks, masks)
    assert ours.masks.shape == (1, *image.shape[:2])


class EncodeOnce(torch.nn.Module):
    """An image encoder that runs once per distinct input tensor and answers repeats from memory:
    the predictor's input is checked equal to the engine's (the preprocessing), and the ViT-B
    forward at 1024 × 1024, a minute on one thread, runs once instead of twice."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder, self.img_size, self.inputs = encoder, encoder.img_size, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for seen, out in self.inputs:
            if torch.equal(seen, x):
                return out.clone()
        out = self.encoder(x)
        self.inputs.append((x.clone(), out.clone()))
        return out


def test_decode_equals_sam_predictor_with_random_vit_b():
    vit_b = random_model(OFFICIAL_ARCHITECTURES["vit_b"])
    vit_b.image_encoder = EncodeOnce(vit_b.image_encoder)
    engine = SamEngine(vit_b, ModelIdentity("vit_b", "0" * 64, "random"), device="cpu")
    assert_matches_predictor(engine, SamPredictor(vit_b), scene_image())
    assert engine.low_res_size == 256
    assert len(vit_b.image_encoder.inputs) == 1  # the predictor's input equalled the engine's


def test_decode_equals_sam_predictor_with_random_tiny():
    sam = random_model(TINY_ARCHITECTURE)
    engine = SamEngine(sam, ModelIdentity("tiny", "1" * 64, "random"), device="cpu")
    assert_matches_predictor(engine, SamPredictor(sam), scene_image(300, 220))


def test_decode_equals_sam_predictor_with_shipped_tiny():
    sam, identity = load_tiny_sam()
    engine = SamEngine(sam, identity, device="cpu")
    assert_matches_predictor(engine, SamPredictor(sam), scene_image())


@pytest.fixture
def tiny_engine(tmp_path):
    sam = random_model(TINY_ARCHITECTURE)
    return SamEngine(sam, ModelIdentity("tiny", "2" * 64, "random"), "cpu", cache=EmbeddingCache(4, tmp_path))


def test_batch_of_prompt_sets_matches_single_decodes(tiny_engine):
    embedding = tiny_engine.embed(scene_image())
    rng = np.random.default_rng(0)
    points = POINTS[None] + rng.integers(-5, 6, size=(6, 3, 2))
    labels = np.repeat(LABELS[None], 6, axis=0)
    batched = tiny_engine.decode_batch(embedding, points, labels)
    for b in range(6):
        single = tiny_engine.decode(embedding, points[b], labels[b])
        np.testing.assert_allclose(batched[b].low_res_logits, single.low_res_logits, atol=1e-4)
        assert (batched[b].masks != single.masks).mean() < 1e-3


def test_decode_with_gradients_reaches_the_embedding(tiny_engine):
    embedding = tiny_engine.embed(scene_image())
    embedding.features.requires_grad_(True)
    with torch.enable_grad():
        logits, low_res, iou = tiny_engine.decode_torch(embedding, POINTS[None], LABELS[None])
        logits[0, 0].sum().backward()
    size = tiny_engine.low_res_size
    assert logits.shape == (1, 3, 180, 240) and low_res.shape == (1, 3, size, size) == (1, 3, 128, 128)
    assert iou.shape == (1, 3)
    assert embedding.features.grad is not None and embedding.features.grad.abs().sum() > 0


def test_embeddings_are_cached_in_memory_and_on_disk(tiny_engine, tmp_path):
    image = scene_image()
    first = tiny_engine.embed(image)
    assert tiny_engine.cache.hits["miss"] == 1
    assert tiny_engine.embed(image) is first and tiny_engine.cache.hits["memory"] == 1
    files = list((tmp_path / "embeddings").glob("*.npz"))
    assert len(files) == 1 and first.key.split("-")[0] in files[0].name
    fresh = SamEngine(tiny_engine.sam, tiny_engine.identity, "cpu", cache=EmbeddingCache(4, tmp_path))
    again = fresh.embed(image)
    assert fresh.cache.hits["disk"] == 1 and torch.equal(again.features, first.features)
    other = image.copy()
    other[0, 0] ^= 1
    assert tiny_engine.embedding_key(other) != first.key


def test_corrupt_disk_cache_entry_is_recomputed(tiny_engine, tmp_path):
    image = scene_image()
    first = tiny_engine.embed(image)
    path = next((tmp_path / "embeddings").glob("*.npz"))
    path.write_bytes(b"garbage")
    fresh = SamEngine(tiny_engine.sam, tiny_engine.identity, "cpu", cache=EmbeddingCache(4, tmp_path))
    assert torch.equal(fresh.embed(image).features, first.features)
    assert fresh.cache.hits["miss"] == 1


def test_cache_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTPROMPT_CACHE_DIR", str(tmp_path / "moved"))
    engine = SamEngine.from_checkpoint(None, device="cpu")
    engine.embed(scene_image())
    assert len(list((tmp_path / "moved" / "embeddings").glob("*.npz"))) == 1


def test_memory_cache_is_least_recently_used(tmp_path):
    cache = EmbeddingCache(memory_items=2, directory=None)
    sam = random_model(TINY_ARCHITECTURE)
    engine = SamEngine(sam, ModelIdentity("tiny", "3" * 64, "random"), "cpu", cache=cache)
    images = [render_scene(np.random.default_rng(i), 64, 64).image for i in range(3)]
    a, b, _ = (engine.embed(image) for image in images)
    assert engine.cached_embedding(images[0]) is None  # evicted
    assert engine.cached_embedding(images[1]) is b and a is not None


@pytest.mark.parametrize(
    "points, labels, message",
    [
        (np.zeros((0, 2)), np.zeros(0), "empty"),
        (np.array([[240, 10]]), np.array([1]), "outside the 240×180 image"),
        (np.array([[-1, 10]]), np.array([1]), "outside"),
        (np.array([[10, 10]]), np.array([2]), "labels must be 1"),
    ],
)
def test_bad_prompts_get_clear_errors(tiny_engine, points, labels, message):
    embedding = tiny_engine.embed(scene_image())
    with pytest.raises(PromptError, match=message):
        tiny_engine.decode(embedding, points, labels)


def test_embed_rejects_unconverted_images(tiny_engine):
    with pytest.raises(ValueError, match="read_image"):
        tiny_engine.embed(np.zeros((10, 10), np.uint8))
