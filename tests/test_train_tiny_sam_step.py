"""The trainer's step: prompt sets of a whole batch decode in one call, and bf16 autocast."""

from __future__ import annotations

import numpy as np
import torch

from core.models.prompt_decoding import decode_low_res
from core.prompting.click_simulation import corrective_click
from core.models.sam_architecture import TINY_SMALL_ARCHITECTURE, build_sam
from core.synthetic.training_examples import sample_example_seeded
from tests.test_packaging_scripts import load_script


def test_prompt_sets_on_different_images_decode_as_each_on_its_own():
    torch.manual_seed(0)
    sam = build_sam(TINY_SMALL_ARCHITECTURE).eval()
    grid = sam.image_encoder.img_size // 8
    embeddings = torch.randn(3, sam.prompt_encoder.embed_dim, grid, grid)
    coords = torch.rand(3, 2, 2) * sam.image_encoder.img_size
    labels = torch.tensor([[1, 0], [1, 1], [1, -1]])
    mask_input = torch.randn(3, 1, 4 * grid, 4 * grid)
    with torch.no_grad():
        batched, batched_iou = decode_low_res(sam, embeddings, coords, labels, mask_input, True)
        for b in range(3):
            alone, alone_iou = decode_low_res(sam, embeddings[b : b + 1], coords[b : b + 1], labels[b : b + 1],
                                              mask_input[b : b + 1], True)
            torch.testing.assert_close(batched[b : b + 1], alone, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(batched_iou[b : b + 1], alone_iou, rtol=1e-4, atol=1e-4)
    # the images matter: swapping two prompt sets' images changes their masks
    with torch.no_grad():
        swapped, _ = decode_low_res(sam, embeddings[[1, 0, 2]], coords, labels, mask_input, True)
    assert not torch.allclose(swapped[0], batched[0], atol=1e-3)


def test_a_bf16_step_trains_and_its_loss_matches_fp32():
    trainer = load_script("train_tiny_sam")
    examples = [sample_example_seeded((4, 0, i, 256, 2, "varied")) for i in range(2)]
    losses, changed = {}, {}
    for precision in ("fp32", "bf16"):
        args = trainer.parse_arguments(["--device", "cpu", "--precision", precision, "--prompts-per-image", "2",
                                        "--grouping-weight", "0.5", "--all-outputs-weight", "0.5"])
        torch.manual_seed(1)
        sam = trainer.build_model(args).train()
        head = trainer.build_grouping_head(sam, args)
        optimizer = torch.optim.AdamW(trainer.trained_parameters(sam, head), lr=1e-3)
        before = sam.image_encoder.stem[0].weight.detach().clone()
        loss, iou, grouping = trainer.optimisation_step(sam, optimizer, examples, 2, args,
                                                        np.random.default_rng(0), head)
        assert torch.isfinite(loss) and 0.0 <= iou <= 1.0 and grouping is not None
        losses[precision] = loss.item()
        changed[precision] = not torch.equal(before, sam.image_encoder.stem[0].weight)
        assert sam.image_encoder.stem[0].weight.dtype == torch.float32  # autocast leaves the weights in fp32
    assert changed == {"fp32": True, "bf16": True}
    assert abs(losses["bf16"] - losses["fp32"]) < 0.03 * losses["fp32"], losses


def test_next_clicks_in_threads_are_the_protocol_clicks_in_order():
    """Found in threads, returned in prompt-set order: the centre of each largest error, padding
    (label -1) for an exact mask, and with a random share of 1 a pixel of that same error type."""
    trainer = load_script("train_tiny_sam")
    truths = np.zeros((12, 64, 64), bool)
    for k in range(12):
        truths[k, 8 + k : 40 + k, 10:50] = True
    masks = truths.copy()
    masks[::3] = np.roll(truths[::3], 6, axis=2)  # shifted: both error types
    masks[1::3, :, :20] = False  # a false negative only; masks[2::3] stay exact
    clicks = trainer.next_clicks(masks, truths)
    expected = [corrective_click(m, t) or ((0, 0), -1) for m, t in zip(masks, truths)]
    assert clicks == expected and [label for _, label in clicks[2::3]] == [-1] * 4
    random = trainer.next_clicks(masks, truths, np.random.default_rng(0), 1.0)
    for k, ((x, y), label) in enumerate(random):
        assert label == expected[k][1]
        if label == 1:
            assert truths[k, y, x] and not masks[k, y, x]
        elif label == 0:
            assert masks[k, y, x] and not truths[k, y, x]
