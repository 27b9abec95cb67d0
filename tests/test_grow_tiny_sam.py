"""packaging/grow_tiny_sam.py: a grown tiny SAM computes what the small one did, and can learn more."""

from __future__ import annotations

import pytest
import torch

from core.models.checkpoint import load_sam
from core.models.sam_architecture import TINY_SMALL_ARCHITECTURE, build_sam
from core.models.tiny_conv_encoder import stage3_dilation
from tests.test_packaging_scripts import load_script


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """A small first-architecture tiny SAM with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(1)
    sam = build_sam(TINY_SMALL_ARCHITECTURE)
    for name, value in sam.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            value.copy_(torch.rand_like(value) + (0.5 if name.endswith("var") else -0.5))
    path = tmp_path_factory.mktemp("small") / "small.pth"
    torch.save(sam.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def grown_file(small_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("grown") / "grown.pth"
    load_script("grow_tiny_sam").main([str(small_file), "--widths", "32", "64", "160", "--stage3-blocks", "5", "--detail",
                    "--global-blocks", "2", "--out", str(out)])
    return out


def test_grown_checkpoint_loads_like_any_sam_and_reports_its_shape(grown_file):
    sam, identity = load_sam(grown_file)
    encoder = sam.image_encoder
    assert identity.variant == "custom"
    assert [encoder.stem[0].out_channels, encoder.down2[0].out_channels, encoder.down3[0].out_channels] == [32, 64, 160]
    assert len(encoder.stage3) == 5 and encoder.has_detail and len(encoder.global_blocks) == 2
    assert [block.body[0][0].dilation[0] for block in encoder.stage3] == [stage3_dilation(i) for i in range(5)]
    assert [stage3_dilation(i) for i in range(5)] == [1, 2, 4, 8, 1]


def test_grown_model_gives_the_small_models_embedding_and_masks(small_file, grown_file):
    small, _ = load_sam(small_file)
    grown, _ = load_sam(grown_file)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 256, 256)
    points = (torch.tensor([[[60.0, 80.0], [200.0, 120.0]]]), torch.tensor([[1, 0]]))
    with torch.no_grad():
        e_small, e_grown = small.image_encoder(images), grown.image_encoder(images)
        assert torch.allclose(e_small, e_grown, atol=1e-4)  # different conv widths may round differently
        masks = []
        for sam, embedding in ((small, e_small[:1]), (grown, e_grown[:1])):
            sparse, dense = sam.prompt_encoder(points=points, boxes=None, masks=None)
            masks.append(sam.mask_decoder(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense, True)[0])
    assert torch.allclose(masks[0], masks[1], atol=1e-3)


def test_every_new_part_gets_a_gradient(grown_file):
    """Zero-initialised weights (new blocks' last norm, detail convs, new→old links) still learn."""
    grown, _ = load_sam(grown_file)
    grown.train()
    grown.image_encoder(torch.randn(2, 3, 256, 256)).pow(2).mean().backward()
    encoder = grown.image_encoder
    for name, grad in (("detail1", encoder.detail1.weight.grad), ("detail2", encoder.detail2.weight.grad),
                       ("new block", encoder.stage3[4].body[2].weight.grad),
                       ("attention output", encoder.global_blocks[0].attn.proj.weight.grad),
                       ("attention MLP", encoder.global_blocks[1].mlp.lin2.weight.grad),
                       ("new→old link", encoder.neck[0].weight.grad[:, 96:])):
        assert grad is not None and grad.abs().sum() > 0, name


def test_shrinking_or_a_vit_is_refused():
    grow = load_script("grow_tiny_sam").grow_tiny_sam
    state = build_sam(TINY_SMALL_ARCHITECTURE).state_dict()
    with pytest.raises(ValueError, match="cannot shrink"):
        grow(state, (16, 48, 96), 3, False)
    with pytest.raises(ValueError, match="cannot shrink"):
        grow(state, (24, 48, 96), 2, False)
    from core.models.sam_architecture import OFFICIAL_ARCHITECTURES
    with torch.device("meta"):
        vit = build_sam(OFFICIAL_ARCHITECTURES["vit_b"]).state_dict()
    with pytest.raises(ValueError, match="only a tiny SAM"):
        grow(vit, (32, 64, 160), 5, True)
    with_attention = grow(state, (24, 48, 96), 3, False, global_blocks=1)
    with pytest.raises(ValueError, match="cannot be widened"):
        grow(with_attention, (24, 48, 128), 3, False, global_blocks=1)


def test_training_continues_from_a_grown_checkpoint(grown_file, tmp_path):
    """train_tiny_sam.py --init builds the architecture the file holds, not the shipped one."""
    train = load_script("train_tiny_sam")
    threads = torch.get_num_threads()
    try:
        train.main(["--steps", "1", "--batch-size", "1", "--prompts-per-image", "1", "--threads", "1",
                    "--init", str(grown_file), "--out", str(tmp_path / "run")])
    finally:
        torch.set_num_threads(threads)
    trained, _ = load_sam(tmp_path / "run" / "last.pth")
    assert trained.image_encoder.has_detail and trained.image_encoder.n_global_blocks == 2
