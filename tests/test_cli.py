"""The headless `pointprompt segment` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from core.cli import main
from core.io.masks import read_mask
from core.models.sam_engine import SamEngine
from core.prompting.click_simulation import most_interior_point
from core.prompting.metrics import iou
from core.synthetic.scenes import render_scene


def test_segment_prints_scores_and_writes_the_first_mask(tmp_path, capsys):
    scene = render_scene(np.random.default_rng(8), 200, 260)
    Image.fromarray(scene.image).save(tmp_path / "scene.png")
    Image.fromarray(scene.masks[0].astype(np.uint8) * 255).save(tmp_path / "truth.png")
    x, y = most_interior_point(scene.masks[0])
    out = tmp_path / "mask.png"
    code = main(["segment", str(tmp_path / "scene.png"), "--include", f"{x},{y}", "--exclude", "2,2",
                 "--truth", str(tmp_path / "truth.png"), "--device", "cpu", "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    engine = SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)
    expected = engine.decode(engine.embed(scene.image), np.array([[x, y], [2, 2]]), np.array([1, 0]))
    assert summary["iou"] == [round(iou(m, scene.masks[0]), 4) for m in expected.masks]
    np.testing.assert_array_equal(read_mask(out), expected.masks[0])


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "img.png")
    Image.fromarray(np.zeros((10, 30), np.uint8)).save(tmp_path / "small.png")
    assert main(["segment", str(tmp_path / "img.png"), "--include", "5,5", "--truth", str(tmp_path / "small.png")]) == 2
    assert "small.png is 30×10 pixels but its image is 30×20" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "img.png"), "--include", "50,5", "--device", "cpu"]) == 2
    assert "outside the 30×20 image" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.png"), "--include", "1,1"]) == 2
    assert "not found" in capsys.readouterr().err


def test_export_writes_a_recorded_session(tmp_path, capsys):
    from core.io.image_datasets import write_category
    from core.io.pointprompt_results import read_annotator_results
    from tests.session_helpers import scripted_session

    truth = np.zeros((24, 32), bool)
    truth[5:18, 6:22] = True
    image = np.zeros((24, 32, 3), np.uint8)
    write_category(tmp_path / "data", "shapes", [image, image], [truth, truth])
    scripted_session(tmp_path / "session", truth)  # still open: export only reads it
    code = main(["export", str(tmp_path / "session"), "--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "x")])
    assert code == 0
    captured = capsys.readouterr()
    written = json.loads(captured.out)
    assert written["timesteps"] == 8 and "exported 2/2 images" in captured.err
    assert Path(written["images_csv"]).read_text().count("\n") == 3  # header and two images
    assert sorted(read_annotator_results(tmp_path / "x", "shapes", "st1")) == [0, 1]
    assert main(["export", str(tmp_path / "nothing"), "--dataset", str(tmp_path / "data"), "--out", "y"]) == 2
    assert "events.jsonl does not exist" in capsys.readouterr().err
