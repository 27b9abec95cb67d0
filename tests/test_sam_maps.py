"""SAM's explanation and uncertainty maps: shapes, alignment, known answers, gradients, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything.utils.amg import calculate_stability_score
from torch import nn

from core.gradients.image_tokens import decode_with_image_tokens
from core.gradients.sam_maps import (
    MAPS,
    MapOptions,
    MapsCancelled,
    _gradient_stage,
    _prompt_variants,
    compute_sam_maps,
    to_image,
)
from core.gradients.suggest_click import suggest_click
from core.models.checkpoint import ModelIdentity
from core.models.embedding_cache import ImageEmbedding
from core.models.prompt_decoding import decode_low_res
from core.models.sam_architecture import OFFICIAL_ARCHITECTURES, TINY_ARCHITECTURE, build_sam
from core.models.sam_engine import PromptError, SamEngine
from core.prompting.metrics import iou
from core.synthetic.scenes import render_scene


@pytest.fixture(scope="module")
def tiny():
    return SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)


@pytest.fixture(scope="module")
def scene():
    """A non-square scene (the input frame is padded below the image) and its embedding."""
    return render_scene(np.random.default_rng(5), 200, 320)


def test_every_map_is_image_sized_in_unit_range_with_scalars(tiny, scene):
    embedding = tiny.embed(scene.image)
    points, labels = np.array([[160, 100], [5, 5]]), np.array([1, 0])
    previous = tiny.decode(embedding, points[:1], labels[:1]).low_res_logits[0]
    maps = compute_sam_maps(tiny, embedding, points, labels, chosen=1, previous_low_res=previous)
    assert set(maps.maps) == set(MAPS) - {"contrast_output_1"}  # no contrast of the chosen output with itself
    for name, value in maps.maps.items():
        assert value.shape == (200, 320) and value.dtype == np.float32, name
        assert 0 <= value.min() and value.max() <= 1 and np.isfinite(value).all(), name
    assert compute_sam_maps(tiny, embedding, points, labels).maps.keys() == set(MAPS) - {
        "contrast_output_0", "contrast_previous"}
    for name in ("predicted_iou", "stability_score", "candidate_disagreement", "logit_entropy", "voice_iou",
                 "voice_snr", "gradient_energy", "purview_total", "intervention_total", "intervention_aleatoric",
                 "intervention_epistemic", "intervention_disagreement"):
        assert np.isfinite(maps.scalars[name]), name
    assert any(name.startswith("purview.transformer.layers.") for name in maps.scalars)


def test_the_mask_and_baselines_match_the_engine(tiny, scene):
    """Maps explain the very mask the app shows; the baselines are SAM's own numbers."""
    embedding = tiny.embed(scene.image)
    points, labels = np.array([[160, 100], [40, 30]]), np.array([1, 1])
    decoded = tiny.decode(embedding, points, labels)
    for chosen in range(3):
        maps = compute_sam_maps(tiny, embedding, points, labels, chosen=chosen)
        np.testing.assert_array_equal(maps.mask, decoded.masks[chosen])
        assert maps.scalars["predicted_iou"] == pytest.approx(float(decoded.predicted_iou[chosen]), abs=1e-5)
    logits = tiny.sam.postprocess_masks(torch.as_tensor(decoded.low_res_logits)[None], embedding.input_size,
                                        embedding.original_size)[0]
    assert maps.scalars["stability_score"] == pytest.approx(float(calculate_stability_score(logits[2], 0.0, 1.0)))
    pairs = [iou(decoded.masks[i], decoded.masks[j]) for i in range(3) for j in range(i + 1, 3)]
    assert maps.scalars["candidate_disagreement"] == pytest.approx(1 - np.mean(pairs))


def test_maps_align_with_the_mask_after_postprocessing(tiny, scene):
    """On a padded, non-square input frame, the logit-entropy map peaks on the mask's own edge."""
    import cv2

    embedding = tiny.embed(scene.image)
    maps = compute_sam_maps(tiny, embedding, np.array([[160, 100]]), np.array([1]))
    mask = maps.mask.astype(np.uint8)
    edge = (cv2.dilate(mask, np.ones((3, 3))) != cv2.erode(mask, np.ones((3, 3))))
    far = cv2.dilate(mask, np.ones((25, 25))) == cv2.erode(mask, np.ones((25, 25)))
    entropy = maps.maps["logit_entropy"]
    assert entropy[edge].mean() > 10 * entropy[far].mean()
    assert np.unravel_index(np.argmax(entropy), entropy.shape) in set(zip(*np.nonzero(edge)))


def test_maps_of_a_random_official_decoder(scene):
    """The official decoder (the same for vit_h, vit_l and vit_b: 256 channels on a 64×64 grid),
    with a random embedding standing in for the image encoder's."""
    torch.manual_seed(0)
    sam = build_sam(OFFICIAL_ARCHITECTURES["vit_b"])
    engine = SamEngine(sam, ModelIdentity("vit_b", "0" * 64, "random"), "cpu")
    embedding = ImageEmbedding(torch.randn(1, 256, 64, 64), (200, 320), (640, 1024), "random")
    maps = compute_sam_maps(engine, embedding, np.array([[100, 50], [300, 190]]), np.array([1, 0]),
                            options=MapOptions(jitter=2))
    assert all(m.shape == (200, 320) for m in maps.maps.values())
    decoded = engine.decode(embedding, np.array([[100, 50], [300, 190]]), np.array([1, 0]))
    np.testing.assert_array_equal(maps.mask, decoded.masks[0])


class _PassThroughBlock(nn.Module):
    """A two-way block that changes nothing: the image tokens stay the embedding."""

    def forward(self, queries, keys, query_pe, key_pe):
        return queries, keys


class _ZeroAttention(nn.Module):
    def forward(self, q, k, v):
        return torch.zeros_like(q)


class _Window(nn.Module):
    """Zeroes everything outside ``rows`` × ``cols`` of the g×g grid, then runs ``inner``."""

    def __init__(self, inner: nn.Module, rows: slice, cols: slice) -> None:
        super().__init__()
        self.inner, self.rows, self.cols = inner, rows, cols

    def forward(self, x):
        window = torch.zeros_like(x)
        window[..., self.rows, self.cols] = 1
        return self.inner(x * window)


def test_known_answer_a_decoder_that_sees_one_region():
    """A hand-built decoder whose masks depend on the image tokens of one region only: the
    gradient-energy map is exactly zero outside it, and Grad-CAM (with its counterfactual)
    lights that region."""
    torch.manual_seed(1)
    sam = build_sam(TINY_ARCHITECTURE).eval()
    decoder = sam.mask_decoder
    decoder.transformer.layers = nn.ModuleList([_PassThroughBlock()])
    decoder.transformer.final_attn_token_to_image = _ZeroAttention()
    decoder.transformer.norm_final_attn = nn.Identity()
    rows, cols = slice(8, 14), slice(20, 27)
    decoder.output_upscaling = _Window(decoder.output_upscaling, rows, cols)
    nn.init.zeros_(sam.prompt_encoder.no_mask_embed.weight)  # the tokens are the embedding itself
    features = torch.zeros(1, 128, 32, 32)
    features[0, :16, rows, cols] = torch.rand(16, 6, 7) + 0.5  # features only in the region
    engine = SamEngine(sam, ModelIdentity("tiny", "0" * 64, "hand-built"), "cpu")
    embedding = ImageEmbedding(features, (256, 256), (256, 256), "hand-built")
    coords, labels = engine.prompt_tensors(embedding, np.array([[[100.0, 40.0]]]), np.array([[1]]))
    _, grid_maps, _, _ = _gradient_stage(sam, embedding, coords, labels, 0, None)
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[rows, cols] = False
    energy = grid_maps["gradient_energy"]
    assert energy[~outside].sum() > 0 and (energy[outside] == 0).all()
    explanation = grid_maps["gradcam"] + grid_maps["counterfactual"]
    assert explanation.sum() > 0 and (explanation[outside] == 0).all()


def test_token_gradients_agree_with_finite_differences():
    """∂s/∂A from autograd against central differences, the tiny architecture's decoder in float64
    (the prompt encoder casts points to float32 itself; its float32 outputs promote to float64)."""
    torch.manual_seed(2)
    sam = build_sam(TINY_ARCHITECTURE).eval()
    sam.mask_decoder.double()
    features = torch.randn(1, 128, 32, 32, dtype=torch.float64)
    coords = torch.tensor([[[90.0, 70.0], [30.0, 200.0]]])
    labels = torch.tensor([[1, 0]])
    target = (torch.rand(128, 128, dtype=torch.float64) > 0.5).double()

    def score(low_res):  # a contrast score: mean BCE(logits of output 0, target)
        return nn.functional.binary_cross_entropy_with_logits(low_res[0, 0], target)

    decoded = decode_with_image_tokens(sam, features, coords, labels)
    (gradient,) = torch.autograd.grad(score(decoded.low_res), decoded.tokens)
    rng = np.random.default_rng(0)
    for token, channel in zip(rng.integers(0, 1024, 6), rng.integers(0, 128, 6)):
        values = []
        for step in (1e-6, -1e-6):
            def nudge(_module, _inputs, output, step=step):
                queries, keys = output
                keys = keys.clone()
                keys[0, token, channel] += step
                return queries, keys
            hook = sam.mask_decoder.transformer.layers[-1].register_forward_hook(nudge)
            with torch.no_grad():
                values.append(score(decode_low_res(sam, features, coords, labels)[0]).item())
            hook.remove()
        numeric = (values[0] - values[1]) / 2e-6
        assert numeric == pytest.approx(gradient[0, token, channel].item(), rel=1e-4, abs=1e-9)


def test_batched_prompt_variants_agree_with_one_call_each(tiny, scene):
    embedding = tiny.embed(scene.image)
    points, labels = np.array([[160.0, 100.0], [40.0, 30.0], [300.0, 190.0]]), np.array([1, 1, 0])
    variant_points, variant_labels = _prompt_variants(points, labels, (200, 320), MapOptions(jitter=3))
    assert len(variant_points) == 3 + 3 and (variant_labels[3:] == -1).sum() == 3  # each point left out once
    coords = torch.as_tensor(tiny.transform.apply_coords(variant_points, (200, 320)), dtype=torch.float)
    label_tensor = torch.as_tensor(variant_labels, dtype=torch.int)
    with torch.no_grad():
        batched, _ = decode_low_res(tiny.sam, embedding.features, coords, label_tensor)
        for v in range(len(variant_points)):
            single, _ = decode_low_res(tiny.sam, embedding.features, coords[v:v + 1], label_tensor[v:v + 1])
            # batched and single matmuls round differently (up to 3e-4 on logits of tens, on some CPUs)
            torch.testing.assert_close(batched[v:v + 1], single, atol=1e-3, rtol=1e-3)


def test_a_newer_click_cancels_the_maps(tiny, scene):
    embedding = tiny.embed(scene.image)
    with pytest.raises(MapsCancelled):
        compute_sam_maps(tiny, embedding, np.array([[160, 100]]), np.array([1]), cancelled=lambda: True)
    with pytest.raises(PromptError):
        compute_sam_maps(tiny, embedding, np.zeros((0, 2)), np.zeros(0))


def test_to_image_maps_the_low_res_logits_to_the_engines_masks(tiny, scene):
    embedding = tiny.embed(scene.image)
    decoded = tiny.decode(embedding, np.array([[160, 100]]), np.array([1]))
    masks = to_image(tiny.sam, torch.as_tensor(decoded.low_res_logits), embedding) > tiny.sam.mask_threshold
    np.testing.assert_array_equal(masks.numpy(), decoded.masks)


def test_suggested_clicks_lie_in_the_image_on_the_right_side_of_the_mask(tiny, scene):
    embedding = tiny.embed(scene.image)
    rng = np.random.default_rng(4)
    for _ in range(6):
        points = np.array([[rng.integers(0, 320), rng.integers(0, 200)]])
        maps = compute_sam_maps(tiny, embedding, points, np.array([1]))
        for source in ("intervention_total", "logit_entropy", "gradient_energy", "voice"):
            found = suggest_click(maps.maps[source], maps.mask, source, points)
            if found is None:
                continue
            assert 0 <= found.x < 320 and 0 <= found.y < 200
            assert found.label == (0 if maps.mask[found.y, found.x] else 1)
            assert np.hypot(found.x - points[0, 0], found.y - points[0, 1]) > 2


def test_suggestion_picks_the_heaviest_region_and_labels_by_the_mask():
    mask = np.zeros((60, 80), bool)
    mask[10:40, 10:40] = True
    uncertainty = np.zeros((60, 80), np.float32)
    uncertainty[20:30, 50:70] = 0.9  # outside the mask, heavier
    uncertainty[15:20, 15:20] = 1.0  # inside, lighter
    found = suggest_click(uncertainty, mask, "test")
    assert (found.label, 50 <= found.x < 70, 20 <= found.y < 30) == (1, True, True)
    uncertainty[20:30, 50:70] = 0.2
    found = suggest_click(uncertainty, mask, "test")
    assert found.label == 0 and mask[found.y, found.x]
    assert suggest_click(np.zeros((60, 80), np.float32), mask, "test") is None
    near_points = np.array([[x, y] for x in (15, 17, 19) for y in (15, 17, 19)])  # cover the inside region
    assert suggest_click(uncertainty, mask, "test", points=near_points).label == 1  # kept away from the points
