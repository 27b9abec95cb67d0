"""Bad input never crashes: every case of the generated corpus (tests/bad_input_corpus.py) gets
its reader's documented error with a message naming the file, through the core readers and the
``pointprompt`` command line; and the window keeps a study's good images usable beside bad ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bad_input_corpus import IMAGE_SIZE, corpus, good_image, outcome
from core.cli import main
from core.io.event_log import read_events
from core.io.image_datasets import write_category
from core.prompting.session import AnnotationSession
from core.prompting.study import study_from_folder

CASES = corpus()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.reader}: {c.name}" for c in CASES])
def test_each_bad_input_gets_its_documented_error_naming_the_file(case, tmp_path):
    kind, message = outcome(case, tmp_path)
    assert kind == "documented", message
    assert str(tmp_path) in message  # the file (or folder) is named, with its full path


def test_the_corpus_covers_every_reader_and_the_required_kinds():
    names = " | ".join(f"{c.reader}: {c.name}" for c in CASES)
    for needed in ("zero-byte .png", "zero-byte .jpg", "zero-byte .tif", "PNG truncated", "JPEG truncated",
                   "TIFF truncated", "1×1 array", "0-d array", "NaN array", "inf array", "5-channel float array",
                   "PNG header claiming 50000×50000", "JPEG header claiming", "TIFF header claiming",
                   "three classes", "colour label map", "checkpoint truncated", "checkpoint of random bytes",
                   "foreign state dict", "NaN weights", "results: points/0_green.npy missing",
                   "an extra mask", "zero bytes", "scores one timestep short", "session log:", "dataset layout A",
                   "dataset layout B"):
        assert needed in names, needed
    assert len(CASES) >= 100


def _good_files(tmp_path):
    Image.fromarray(good_image()).save(tmp_path / "good.png")
    truth = np.zeros(IMAGE_SIZE, np.uint8)
    truth[5:20, 10:30] = 255
    Image.fromarray(truth).save(tmp_path / "truth.png")
    return tmp_path / "good.png", tmp_path / "truth.png"


@pytest.mark.parametrize("case", [c for c in CASES if c.reader in ("image", "mask", "checkpoint")],
                         ids=lambda c: f"{c.reader}: {c.name}")
def test_the_command_line_says_what_is_wrong_in_one_line_and_exits_2(case, tmp_path, capsys):
    (tmp_path / "case").mkdir()
    target = case.build(tmp_path / "case")
    image, truth = _good_files(tmp_path)
    args = {"image": [str(target), "--include", "5,5"],
            "mask": [str(image), "--include", "5,5", "--truth", str(target)],
            "checkpoint": [str(image), "--include", "5,5", "--checkpoint", str(target)]}[case.reader]
    assert main(["segment", *args, "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("pointprompt: ") and str(target.parent) in error and "Traceback" not in error


@pytest.mark.parametrize("case", [c for c in CASES if c.reader == "session"], ids=lambda c: c.name)
def test_exporting_a_damaged_session_exits_2_naming_the_log(case, tmp_path, capsys):
    session = case.build(tmp_path)
    write_category(tmp_path / "data", "a", [good_image()], [np.ones(IMAGE_SIZE, np.uint8)])
    assert main(["export", str(session), "--dataset", str(tmp_path / "data"), "--out", str(tmp_path / "x")]) == 2
    assert "events.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_damaged_log_is_not_taken_over(tmp_path):
    """Opening a session on a damaged log raises its error, writes nothing, and frees the folder."""
    from core.io.event_log import EventLogError

    case = next(c for c in CASES if c.name == "session log: a timestep missing its fields")
    folder = case.build(tmp_path)
    before = (folder / "events.jsonl").read_bytes()
    for _ in range(2):  # the second attempt is not refused as "in use by another window"
        with pytest.raises(EventLogError, match="event 3 .*'timestep'.* is malformed"):
            AnnotationSession.open(folder, "st1")
    assert (folder / "events.jsonl").read_bytes() == before


def test_a_study_mixing_good_and_bad_files_keeps_the_good_ones_usable(qtbot, tmp_path):
    """In the real window: bad files are listed with their reason, good ones segment, the log keeps all."""
    from test_main_window import click, open_window, wait_for_timesteps

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a_good", "c_good", "f_good_bad_mask", "g_good_label_map"):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(images / f"{name}.png")
        truth = np.zeros((48, 64), np.uint8)
        truth[10:30, 12:40] = 255
        Image.fromarray(truth if "bad_mask" not in name else truth[:20]).save(masks / f"{name}.png")
    labels = np.zeros((48, 64), np.uint8)
    labels[5:10, 5:10], labels[20:30, 20:30] = 1, 2
    Image.fromarray(labels).save(masks / "g_good_label_map.png")
    whole = (images / "a_good.png").read_bytes()
    (images / "b_truncated.png").write_bytes(whole[: len(whole) // 2])
    (images / "d_empty.jpg").write_bytes(b"")
    (images / "e_huge.png").write_bytes(next(c for c in CASES if c.name.startswith("PNG header claiming"))
                                        .build(tmp_path).read_bytes())
    study = study_from_folder(images, masks)
    window = open_window(qtbot, tmp_path, images=study)
    window.controller.prefetch_all()
    qtbot.waitUntil(lambda: all(window.table.row_texts(r)[1] in ("ready", "broken") for r in range(len(study))),
                    timeout=60_000)
    states = {study[r].image_id.split("/")[1]: (window.table.row_texts(r)[1], window.table.item(r, 0).toolTip())
              for r in range(len(study))}
    assert {name for name, (state, _) in states.items() if state == "ready"} == {"a_good.png", "c_good.png"}
    reasons = {"b_truncated.png": "b_truncated.png", "d_empty.jpg": "d_empty.jpg is empty",
               "e_huge.png": "e_huge.png is 50000×50000 pixels, over the 250 MP limit",
               "f_good_bad_mask.png": "is 64×20 pixels but its image is 64×48",
               "g_good_label_map.png": "holds more than two values (0, 1, 2)"}
    for name, reason in reasons.items():
        state, tooltip = states[name]
        assert state == "broken" and reason in tooltip, (name, tooltip)
    click(qtbot, window, 20, 20)  # the first image, good: one timestep with an IoU
    wait_for_timesteps(qtbot, window, 1)
    assert window.controller.shown.iou is not None
    window.controller.open_index(1)  # a bad one: reported, nothing to click on
    assert window.controller.loaded is None and "b_truncated.png" in window.score_label.text()
    window.controller.open_index(2)
    click(qtbot, window, 30, 15)
    wait_for_timesteps(qtbot, window, 1)
    window.close()
    session = AnnotationSession.load(tmp_path / "session")
    assert {i: len(r.timesteps) for i, r in session.records.items() if r.timesteps} == {
        "images/a_good.png": 1, "images/c_good.png": 1}
    opened = [e["image"] for e in read_events(tmp_path / "session" / "events.jsonl") if e["event"] == "open"]
    assert opened == ["images/a_good.png", "images/b_truncated.png", "images/c_good.png"]
    assert json.dumps(session.events)  # the whole log reads back
