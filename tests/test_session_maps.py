"""Gradient maps and suggestions in the session log and the export (core only, no Qt): maps
events replayed, old logs still loading, PNGs and the scalar CSV beside the PointPrompt layout."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil

import numpy as np
import pytest

from core.cli import main as cli_main
from core.io.event_log import EventLogError, read_events
from core.io.map_png import decode_map_png, encode_map_png, map_to_bytes, read_map_png
from core.io.pointprompt_results import read_annotator_results
from core.prompting.export import MAP_SCALAR_COLUMNS, export_session
from core.prompting.session import AnnotationSession
from tests.session_helpers import FakeClock, scripted_session
from tests.test_study_and_export import make_dataset


@pytest.fixture
def truth():
    mask = np.zeros((24, 32), bool)
    mask[5:18, 6:22] = True
    return mask


def fake_maps(index: int, shape=(24, 32)) -> dict[str, np.ndarray]:
    """Two deterministic (H, W) maps in [0, 1]."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return {"gradcam": (xx / (shape[1] - 1)).astype(np.float32),
            "intervention_total": ((yy + index) % shape[0] / (shape[0] - 1)).astype(np.float32)}


def add_maps(session: AnnotationSession, image_id: str, chosen_of=None) -> int:
    """Record maps for every timestep of ``image_id`` (for its chosen candidate, or ``chosen_of(t)``)."""
    count = 0
    for t, step in enumerate(session.records[image_id].timesteps):
        chosen = step.chosen if chosen_of is None else chosen_of(t)
        maps = fake_maps(t)
        scalars = {"predicted_iou": 0.5 + t / 100, "intervention_total": 0.01 * t}
        count += session.record_maps(image_id, t, chosen, scalars, {n: encode_map_png(v) for n, v in maps.items()},
                                     0.1)
    return count


def test_map_pngs_round_trip_to_eight_bits(rng):
    values = rng.random((7, 9)).astype(np.float32)
    values[0, 0], values[0, 1] = 0.0, 1.0
    decoded = decode_map_png(encode_map_png(values))
    assert decoded.dtype == np.float32 and np.abs(decoded - values).max() <= 0.5 / 255 + 1e-7
    np.testing.assert_array_equal(map_to_bytes(decoded), map_to_bytes(values))
    with pytest.raises(ValueError, match="not a readable PNG"):
        decode_map_png(b"not a png")
    with pytest.raises(FileNotFoundError):
        read_map_png("/nonexistent/map.png")


def test_maps_and_suggestions_are_logged_and_replayed(tmp_path, truth):
    session = scripted_session(tmp_path / "s", truth)
    assert add_maps(session, "shapes/0") == 7
    assert not session.record_maps("shapes/0", 0, session.records["shapes/0"].timesteps[0].chosen, {}, {})  # twice
    assert not session.record_maps("shapes/0", 99, 0, {}, {})  # no such timestep
    session.open_image("shapes/0")
    session.log_suggestion("shapes/0", 6, 10, 12, 0, "intervention_total", 3.5)
    session.suggestion_outcome("shapes/0", "ignored", "add")
    session.log_suggestion("shapes/0", 6, 11, 13, 1, "voice")
    session.suggestion_outcome("shapes/0", "followed", "add")
    with pytest.raises(ValueError, match="unknown suggestion outcome"):
        session.suggestion_outcome("shapes/0", "maybe", "add")
    session.close()

    logged = [e for e in read_events(tmp_path / "s" / "events.jsonl") if e["event"] == "maps"]
    assert [e["index"] for e in logged] == list(range(7))
    assert logged[5]["chosen"] == 2 and logged[5]["scalars"]["predicted_iou"] == pytest.approx(0.55)
    for name, path in logged[3]["files"].items():
        assert path == f"maps/{path.split('/')[1]}/3_0_{name}.png"
        np.testing.assert_array_equal(map_to_bytes(read_map_png(tmp_path / "s" / path)),
                                      map_to_bytes(fake_maps(3)[name]))

    loaded = AnnotationSession.load(tmp_path / "s")
    steps = loaded.records["shapes/0"].timesteps
    assert steps[5].scalars == {"predicted_iou": pytest.approx(0.55), "intervention_total": pytest.approx(0.05)}
    assert steps[5].maps[2].files == logged[5]["files"]
    assert loaded.records["shapes/1"].timesteps[0].scalars is None  # no maps computed for it
    suggestions = loaded.records["shapes/0"].suggestions
    assert [(s.x, s.y, s.label, s.source, s.outcome) for s in suggestions] == [
        (10, 12, 0, "intervention_total", "ignored"), (11, 13, 1, "voice", "followed")]
    resumed = AnnotationSession.open(tmp_path / "s", "st1", clock=FakeClock())  # and it resumes
    assert resumed.records["shapes/0"].timesteps[5].scalars == steps[5].scalars
    resumed.close()


def test_malformed_map_and_suggestion_events_name_the_line(tmp_path, truth):
    session = scripted_session(tmp_path / "s", truth)
    session.close()
    log = tmp_path / "s" / "events.jsonl"
    good = log.read_text()
    for bad in ({"event": "maps", "image": "shapes/0", "index": 40, "chosen": 0, "scalars": {}, "files": {}},
                {"event": "maps", "image": "shapes/0", "index": -1, "chosen": 0, "scalars": {}, "files": {}},
                {"event": "maps", "image": "shapes/0", "index": 0, "chosen": 0, "scalars": {"a": "x"}, "files": {}},
                {"event": "suggest_outcome", "image": "shapes/1", "outcome": "followed", "by": "add"},
                {"event": "suggest", "image": "shapes/0", "index": 0, "x": 1}):
        log.write_text(good + json.dumps({"seq": 999, "t": 1e9, **bad}) + "\n")
        with pytest.raises(EventLogError, match="event .* is malformed"):
            AnnotationSession.load(tmp_path / "s")


def test_old_logs_without_maps_still_load_and_export(tmp_path, truth):
    from core.paths import RESOURCES

    example = RESOURCES.parent / "docs" / "example-export" / "session-events.jsonl"
    session = scripted_session(tmp_path / "s", truth)
    session.close()
    study = make_dataset(tmp_path / "data", truth)
    loaded = AnnotationSession.load(tmp_path / "s")
    assert all(step.maps == {} and step.scalars is None for r in loaded.records.values() for step in r.timesteps)
    summary = export_session(loaded, study, tmp_path / "export", maps=True)
    assert summary.map_files == 0 and summary.timesteps == 8
    with open(summary.map_scalars_csv_path, newline="") as handle:
        assert list(csv.reader(handle)) == [list(MAP_SCALAR_COLUMNS)]
    folder = tmp_path / "example"  # the documented example, recorded before maps existed
    folder.mkdir()
    shutil.copy(example, folder / "events.jsonl")
    assert AnnotationSession.load(folder).records["star/0"].timesteps[0].maps == {}


def test_export_with_maps_writes_them_beside_the_layout_and_re_exports(tmp_path, truth, capsys):
    session = scripted_session(tmp_path / "s", truth)
    add_maps(session, "shapes/0", chosen_of=lambda t: 0)  # timestep 5 chose candidate 2: its maps are for 0
    session.record_maps("shapes/0", 6, 1, {"predicted_iou": 0.9}, {"gradcam": encode_map_png(fake_maps(9)["gradcam"])})
    study = make_dataset(tmp_path / "data", truth)
    summary = export_session(session, study, tmp_path / "export", maps=True)
    root = tmp_path / "export"
    assert summary.maps_folder == root / "st1_maps" and summary.map_scalars_csv_path == root / "st1_map_scalars.csv"
    assert summary.map_files == 14
    pngs = sorted(p.name for p in (root / "st1_maps" / "shapes").iterdir())
    assert pngs == sorted(f"0_{t}_{n}.png" for t in range(7) for n in ("gradcam", "intervention_total"))
    written = read_map_png(root / "st1_maps" / "shapes" / "0_3_intervention_total.png")
    np.testing.assert_array_equal(map_to_bytes(written), map_to_bytes(fake_maps(3)["intervention_total"]))
    # timestep 6's chosen candidate (0) has maps: those are exported, not candidate 1's
    np.testing.assert_array_equal(map_to_bytes(read_map_png(root / "st1_maps" / "shapes" / "0_6_gradcam.png")),
                                  map_to_bytes(fake_maps(6)["gradcam"]))
    # nothing of the maps inside the PointPrompt layout: it reads as before
    layout = {p.relative_to(root / "shapes").parts[1] for p in (root / "shapes").rglob("*") if p.is_file()}
    assert layout == {"eachround", "points", "masks", "scores", "sorts"}
    assert not any("map" in p.name.replace("_mask", "") for p in (root / "shapes").rglob("*"))
    assert len(read_annotator_results(root, "shapes", "st1")[0]) == 7
    with open(summary.map_scalars_csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 14 and set(rows[0]) == set(MAP_SCALAR_COLUMNS)
    row = next(r for r in rows if r["timestep"] == "5" and r["scalar"] == "predicted_iou")
    assert (row["image_id"], row["image_index"], row["chosen"], float(row["value"])) == ("shapes/0", "0", "0", 0.55)
    session.close()

    loaded = AnnotationSession.load(tmp_path / "s")  # the session still loads and re-exports the same
    export_session(loaded, study, tmp_path / "again", maps=True)
    for path in (root / "st1_maps").rglob("*.png"):
        assert (tmp_path / "again" / path.relative_to(root)).read_bytes() == path.read_bytes()
    assert (tmp_path / "again" / "st1_map_scalars.csv").read_text() == summary.map_scalars_csv_path.read_text()

    assert cli_main(["export", str(tmp_path / "s"), "--dataset", str(tmp_path / "data"), "--out",
                     str(tmp_path / "cli"), "--maps"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["map_files"] == 14 and printed["maps_folder"] == str(tmp_path / "cli" / "st1_maps")
    assert (tmp_path / "cli" / "st1_map_scalars.csv").read_text() == summary.map_scalars_csv_path.read_text()
    assert cli_main(["export", str(tmp_path / "s"), "--dataset", str(tmp_path / "data"), "--out",
                     str(tmp_path / "plain")]) == 0
    assert not (tmp_path / "plain" / "st1_maps").exists() and not (tmp_path / "plain" / "st1_map_scalars.csv").exists()


def test_a_missing_map_png_is_named_and_a_clashing_category_refused(tmp_path, truth):
    from core.prompting.session import MissingMaskError

    session = scripted_session(tmp_path / "s", truth)
    add_maps(session, "shapes/0")
    study = make_dataset(tmp_path / "data", truth)
    victim = session.records["shapes/0"].timesteps[2].maps[0].files["gradcam"]
    (tmp_path / "s" / victim).unlink()
    with pytest.raises(MissingMaskError, match="2_0_gradcam.png"):
        export_session(session, study, tmp_path / "export", maps=True)
    study = [dataclasses.replace(image, category="st1_maps") for image in study]
    with pytest.raises(FileExistsError, match="st1_maps"):
        export_session(session, study, tmp_path / "export2", maps=True)
    session.close()


def test_save_to_carries_the_map_pngs(tmp_path, truth):
    session = scripted_session(tmp_path / "s", truth)
    add_maps(session, "shapes/0")
    session.save_to(tmp_path / "elsewhere")
    loaded = AnnotationSession.load(tmp_path / "elsewhere")
    files = loaded.records["shapes/0"].timesteps[4].maps[0].files
    assert all((tmp_path / "elsewhere" / path).is_file() for path in files.values())
    session.close()
