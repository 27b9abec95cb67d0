"""The command line and the remembered choices (QSettings in a private folder per test)."""

from pathlib import Path

from core.paths import DEMO_DATASET
from desktop.app import merge_with_remembered, parse_args, settings


def test_last_choices_are_remembered_and_demo_overrides_them(tmp_path, qapp):
    store = settings()
    first = merge_with_remembered(parse_args(["--images", str(tmp_path / "imgs"), "--masks", str(tmp_path / "gt"),
                                              "--annotator", "st7", "--device", "cpu",
                                              "--checkpoint", str(tmp_path / "sam_vit_b.pth")]), store)
    assert first.images == tmp_path / "imgs" and first.dataset is None
    again = merge_with_remembered(parse_args([]), settings())
    assert again.images == tmp_path / "imgs" and again.masks == tmp_path / "gt"
    assert again.annotator == "st7" and again.device == "cpu" and again.checkpoint == tmp_path / "sam_vit_b.pth"
    demo = merge_with_remembered(parse_args(["--demo"]), settings())
    assert demo.dataset == DEMO_DATASET and demo.images is None and demo.checkpoint is None
    assert demo.annotator == "st7"  # who annotates is still remembered
    given = merge_with_remembered(parse_args(["--demo", "--checkpoint", str(tmp_path / "vit_h.pth")]), settings())
    assert given.dataset == DEMO_DATASET and given.checkpoint == tmp_path / "vit_h.pth"  # make run ARGS=...
    merge_with_remembered(parse_args(["--demo"]), settings())
    after_demo = merge_with_remembered(parse_args([]), settings())
    assert after_demo.dataset == DEMO_DATASET and after_demo.checkpoint is None


def test_first_run_defaults_to_the_demo(qapp):
    args = merge_with_remembered(parse_args([]), settings())
    assert args.dataset == DEMO_DATASET and args.annotator == "st1" and args.device == "auto"
    assert isinstance(args.dataset, Path)
