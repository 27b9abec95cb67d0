"""``pointprompt``: headless commands over the same core the app uses.

    pointprompt segment IMAGE --include 120,80 [--include X,Y ...] [--exclude X,Y ...]
                        [--truth MASK] [--checkpoint FILE] [--device auto] [--out mask.png]
    pointprompt export SESSION_FOLDER (--dataset DIR [--category C] | --images DIR) --out DIR [--maps]
    pointprompt sam-maps IMAGE --include X,Y [...] --out DIR        (see core.map_commands)
    pointprompt evaluate-uncertainty --dataset DIR --out DIR        (see core.map_commands)
    pointprompt analyze RESULTS [--dataset DIR] --out DIR           (see core.analyze_command)
    pointprompt auto-prompt --dataset DIR --strategy S --out DIR     (see core.auto_prompt_command)
    pointprompt explain | trust | evaluate-trust …                   (see core.classifier_commands)
    pointprompt replay RESULTS --dataset DIR --out DIR                (see core.replay_command)

``export`` writes a session (the app's ``<output>/sessions/<annotator>`` folder, read without taking it
over) in the PointPrompt "Prompting results" layout with the tidy CSV, as File → Export does;
the study options must name the images the session was recorded on. ``--maps`` adds each
timestep's gradient maps (PNGs under ``<out>/<annotator>_maps/<category>/``) and
``<out>/<annotator>_map_scalars.csv``, beside the PointPrompt layout.

Points are (x, y) in image pixels. Prints SAM's predicted IoU of each candidate mask and, with
--truth, IoU and Dice against it; --out writes the first multimask output (PointPrompt's
choice) as a single-channel 0/255 PNG, atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.io.atomic import atomic_write_bytes
from core.io.images import ImageReadError, read_image
from core.io.masks import MaskSizeError, encode_mask_png, read_mask
from core.analyze_command import ANALYZE_COMMANDS, add_analyze_command
from core.auto_prompt_command import AUTO_PROMPT_COMMANDS, add_auto_prompt_command
from core.classifier_commands import CLASSIFIER_COMMANDS, add_classifier_commands
from core.replay_command import REPLAY_COMMANDS, add_replay_command
from core.map_commands import COMMANDS as MAP_COMMANDS
from core.map_commands import add_map_commands
from core.models.checkpoint import CheckpointError
from core.models.device import DeviceError
from core.models.sam_engine import PromptError, SamEngine
from core.prompting.metrics import dice, iou


def _point(text: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected X,Y in image pixels, got {text!r}") from error
    return x, y


def segment(args: argparse.Namespace) -> dict:
    """Run one prompt set on one image; return the printed summary as a dict."""
    image = read_image(args.image)
    truth = None if args.truth is None else read_mask(args.truth, image.shape[:2])  # bad input fails before SAM runs
    points = [*args.include, *args.exclude]
    labels = [1] * len(args.include) + [0] * len(args.exclude)
    engine = SamEngine.from_checkpoint(args.checkpoint, device=args.device)
    decoded = engine.decode(engine.embed(image), np.array(points).reshape(-1, 2), np.array(labels))
    summary = {"model": engine.description, "predicted_iou": [round(float(v), 4) for v in decoded.predicted_iou]}
    if truth is not None:
        summary["iou"] = [round(iou(mask, truth), 4) for mask in decoded.masks]
        summary["dice"] = [round(dice(mask, truth), 4) for mask in decoded.masks]
    if args.out is not None:
        atomic_write_bytes(args.out, encode_mask_png(decoded.masks[0]))
        summary["written"] = str(args.out)
    return summary


def export(args: argparse.Namespace) -> dict:
    """Export a recorded session; return what was written."""
    from core.prompting.export import export_session
    from core.prompting.session import AnnotationSession
    from core.prompting.study import study_from_folder, study_from_image_datasets

    if not (args.session / "events.jsonl").is_file():
        raise FileNotFoundError(f"{args.session / 'events.jsonl'} does not exist: give the app's <output>/sessions/<annotator> folder")
    images = (study_from_folder(args.images, args.masks) if args.images
              else study_from_image_datasets(args.dataset, args.category))
    summary = export_session(AnnotationSession.load(args.session), images, args.out,
                             progress=lambda done, total: print(f"\rexported {done}/{total} images", end="",
                                                                file=sys.stderr, flush=True), maps=args.maps)
    print(file=sys.stderr)
    written = {"folders": [str(f) for f in summary.folders], "csv": str(summary.csv_path),
               "images_csv": str(summary.images_csv_path),
               "timesteps": summary.timesteps, "not_in_study": summary.skipped}
    if args.maps:
        written.update(maps_folder=str(summary.maps_folder), map_scalars_csv=str(summary.map_scalars_csv_path),
                       map_files=summary.map_files)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pointprompt", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seg = commands.add_parser("segment", help="segment one image from point prompts")
    seg.add_argument("image", type=Path)
    seg.add_argument("--include", type=_point, action="append", default=[], metavar="X,Y")
    seg.add_argument("--exclude", type=_point, action="append", default=[], metavar="X,Y")
    seg.add_argument("--truth", type=Path, default=None, help="ground-truth mask of the same size")
    seg.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped tiny SAM")
    seg.add_argument("--device", default="auto")
    seg.add_argument("--out", type=Path, default=None, help="write the first candidate mask as PNG")
    exp = commands.add_parser("export", help="write a recorded session in the PointPrompt results layout")
    exp.add_argument("session", type=Path, help="the app's <output>/sessions/<annotator> folder")
    source = exp.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=Path, help="PointPrompt 'Image datasets' folder the session used")
    source.add_argument("--images", type=Path, help="folder of images the session used")
    exp.add_argument("--category", action="append", help="with --dataset: only these categories")
    exp.add_argument("--masks", type=Path, help="with --images: ground-truth masks by file stem")
    exp.add_argument("--out", type=Path, required=True)
    exp.add_argument("--maps", action="store_true",
                     help="also write each timestep's gradient maps and their scalars beside the results")
    add_map_commands(commands, _point)
    add_analyze_command(commands)
    add_auto_prompt_command(commands)
    add_classifier_commands(commands)
    add_replay_command(commands)
    args = parser.parse_args(argv)
    from core.io.event_log import EventLogError
    from core.io.image_datasets import DatasetError
    from core.analysis.trust_dataset import TrustDatasetError
    from core.gradients.purview import PurviewDetectorError
    from core.models.classifier import ClassifierError
    from core.prompting.session import MissingMaskError
    from core.prompting.study import StudyImageError

    try:
        command = {"segment": segment, "export": export, **MAP_COMMANDS, **ANALYZE_COMMANDS,
                   **AUTO_PROMPT_COMMANDS, **REPLAY_COMMANDS, **CLASSIFIER_COMMANDS}[args.command]
        print(json.dumps(command(args), indent=1))
    except (ImageReadError, MaskSizeError, CheckpointError, DeviceError, PromptError, StudyImageError,
            EventLogError, MissingMaskError, DatasetError, ClassifierError, TrustDatasetError,
            PurviewDetectorError, OSError) as error:
        print(f"pointprompt: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
