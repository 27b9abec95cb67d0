"""Write docs/example-export/: a scripted session on two demo images, exported in the PointPrompt layout.

    python packaging/make_example_export.py [--out docs/example-export]

The session runs the shipped tiny SAM on the CPU through core (the same session, event log
and exporter the app uses), with a fixed clock so the files are reproducible (all but the measured decode latencies). On image
star/0: three clicks, a removal, an undo, then a second round of two clicks; on star/1 two
clicks. Clicks follow the standard protocol (first at the most interior point, then at the
centre of the largest error). tests/test_example_export.py reruns it and compares.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.models.sam_engine import SamEngine  # noqa: E402
from core.paths import DEMO_DATASET  # noqa: E402
from core.prompting.click_simulation import corrective_click, most_interior_point  # noqa: E402
from core.prompting.export import export_session  # noqa: E402
from core.prompting.metrics import iou_and_dice  # noqa: E402
from core.prompting.session import EVENTS_FILE, AnnotationSession  # noqa: E402
from core.prompting.study import study_from_image_datasets  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "example-export"
START_TIME = 1_800_000_000  # the fixed clock's first reading (Unix seconds); one second per event


class ScriptedAnnotator:
    """Edits one image's prompt set through the session and records SAM's answer after each edit."""

    def __init__(self, engine: SamEngine, session: AnnotationSession, image_id: str, image, truth) -> None:
        self.engine, self.session, self.image_id, self.truth = engine, session, image_id, truth
        self.embedding = engine.embed(image)
        session.open_image(image_id)

    @property
    def prompts(self):
        return self.session.record(self.image_id).prompts

    def _decode(self) -> None:
        start = time.perf_counter()
        decoded = self.engine.decode(self.embedding, self.prompts.coords, self.prompts.labels)
        latency = time.perf_counter() - start
        scores = [iou_and_dice(mask, self.truth) for mask in decoded.masks]
        self.session.record_timestep(self.image_id, self.prompts, decoded.masks,
                                     [float(v) for v in decoded.predicted_iou], [s[0] for s in scores],
                                     [s[1] for s in scores], chosen=0, latency_s=latency,
                                     model=self.engine.identity.key, device=str(self.engine.device))

    def edit(self, action: str, prompts, **detail) -> None:
        self.session.edit(action, prompts, **detail)
        self._decode()

    def click_interior(self) -> None:
        x, y = most_interior_point(self.truth)
        self.edit("add", self.prompts.added(x, y, 1), x=x, y=y, label=1)

    def click_correction(self) -> None:
        last = len(self.session.record(self.image_id).timesteps) - 1
        found = corrective_click(self.session.timestep_mask(self.image_id, last), self.truth)
        if found is None:
            return
        (x, y), label = found
        self.edit("add", self.prompts.added(x, y, label), x=x, y=y, label=label)


def run_session(folder: Path) -> tuple[AnnotationSession, list]:
    engine = SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)
    images = study_from_image_datasets(DEMO_DATASET, ["star"])[:2]
    clock = count(START_TIME)
    session = AnnotationSession.open(folder, "st1", model=engine.identity.key, device="cpu",
                                     clock=lambda: float(next(clock)))
    first = images[0].load()
    annotator = ScriptedAnnotator(engine, session, images[0].image_id, first.image, first.truth)
    annotator.click_interior()
    annotator.click_correction()
    annotator.click_correction()
    before_removal = annotator.prompts
    annotator.edit("remove", before_removal.removed(1), index=1)
    annotator.edit("undo", before_removal, of="remove")
    session.new_round()
    annotator.click_interior()
    annotator.click_correction()
    session.judge_ground_truth(images[0].image_id, False)  # "was the ground truth suboptimal?" (scripted)
    second = images[1].load()
    annotator = ScriptedAnnotator(engine, session, images[1].image_id, second.image, second.truth)
    annotator.click_interior()
    annotator.click_correction()
    session.judge_ground_truth(images[1].image_id, True)
    session.close_image()
    session.close()
    return session, images


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        session, images = run_session(Path(tmp) / "session")
        for name in ("star", "st1_timesteps.csv", "st1_images.csv", "session-events.jsonl"):
            target = args.out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        export_session(session, images, args.out)
        shutil.copyfile(Path(tmp) / "session" / EVENTS_FILE, args.out / "session-events.jsonl")
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
