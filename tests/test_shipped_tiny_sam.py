"""The shipped tiny SAM is a real, trained segmenter of the demo objects (not a random one)."""

from __future__ import annotations

import numpy as np
import torch

from core.analysis.click_protocol import run_click_protocol
from core.io.image_datasets import list_categories, read_category
from core.models.checkpoint import ModelIdentity
from core.models.sam_architecture import TINY_ARCHITECTURE, build_sam
from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET, TINY_SAM_PATH


def one_click_ious(engine: SamEngine) -> np.ndarray:
    ious = []
    for category in list_categories(DEMO_DATASET):
        for entry in read_category(DEMO_DATASET, category)[:6]:
            run = run_click_protocol(engine, engine.embed(entry.image), entry.truth, max_clicks=1)
            ious.append(run.ious[0])
    return np.array(ious)


def test_shipped_model_fits_the_size_budget_and_is_a_plain_state_dict():
    assert TINY_SAM_PATH.stat().st_size <= 25 * 1024 * 1024
    state = torch.load(TINY_SAM_PATH, weights_only=True)
    assert isinstance(state, dict) and "mask_decoder.mask_tokens.weight" in state


def test_trained_weights_segment_far_better_than_untrained_ones():
    trained = one_click_ious(SamEngine.from_checkpoint(None, device="cpu", cache_dir=False))
    torch.manual_seed(0)
    untrained = one_click_ious(SamEngine(build_sam(TINY_ARCHITECTURE), ModelIdentity("tiny", "0" * 64, "random"),
                                         "cpu", cache=None))
    whole_image = np.mean([entry.truth.mean() for c in list_categories(DEMO_DATASET)
                           for entry in read_category(DEMO_DATASET, c)[:6]])  # IoU of an all-foreground mask
    assert trained.mean() > 2 * max(untrained.mean(), whole_image)


def test_shipped_model_segments_the_clicked_object_not_the_same_one_everywhere():
    """Clicks on different objects of a scene give different masks, each closest to its own object."""
    from core.prompting.click_simulation import most_interior_point
    from core.prompting.metrics import iou
    from core.synthetic.scenes import render_scene

    engine = SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)
    rng = np.random.default_rng(11)
    overlaps, own_best = [], []
    for _ in range(8):
        scene = render_scene(rng, 240, 320)
        embedding = engine.embed(scene.image)
        masks = [engine.decode(embedding, np.array([most_interior_point(t)]), np.array([1]),
                               multimask_output=False).masks[0] for t in scene.masks]
        for i, mask in enumerate(masks):
            scores = [iou(mask, truth) for truth in scene.masks]
            own_best.append(int(np.argmax(scores)) == i)
            overlaps += [iou(mask, other) for other in masks[i + 1:]]
    assert np.mean(overlaps) < 0.3  # the model trained before the aligned start: 0.97
    assert np.mean(own_best) > 0.7
