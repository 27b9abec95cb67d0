"""``pointprompt-studio``: start the annotation app.

With no arguments it reopens the last study and choices (remembered with QSettings), or the
demo dataset with the shipped tiny SAM the first time; ``--demo`` always opens the demo.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.paths import DEMO_DATASET

REMEMBERED = ("dataset", "images", "masks", "checkpoint", "device", "annotator", "output")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pointprompt-studio", description=__doc__)
    parser.add_argument("--demo", action="store_true",
                        help="the demo dataset and the shipped tiny SAM, ignoring remembered choices")
    parser.add_argument("--dataset", type=Path, help="a PointPrompt 'Image datasets' folder")
    parser.add_argument("--category", action="append", help="only this category of --dataset (repeatable)")
    parser.add_argument("--images", type=Path, help="a folder of images (instead of --dataset)")
    parser.add_argument("--masks", type=Path, help="ground-truth masks for --images, matched by file stem")
    parser.add_argument("--checkpoint", type=Path, help="an official SAM checkpoint (vit_h, vit_l, vit_b); "
                        "default: the shipped tiny SAM")
    parser.add_argument("--variant", choices=("vit_h", "vit_l", "vit_b", "tiny", "tiny_small"), default=None,
                        help="insist on this variant (it is detected from the file otherwise)")
    parser.add_argument("--device", help="auto (CUDA, then MPS, then CPU), cuda, cuda:1, mps or cpu")
    parser.add_argument("--annotator", help="annotator id, used as the PointPrompt folder name (default st1)")
    parser.add_argument("--output", type=Path, help="folder for the session logs (sessions/<annotator>/) and "
                        "exports (default ~/PointPrompt Studio)")
    parser.add_argument("--seed", type=int, default=None, help="show the images in a random order fixed by this seed")
    parser.add_argument("--blind", action="store_true", help="hide ground-truth scores from the annotator")
    parser.add_argument("--best-candidate", action="store_true",
                        help="choose SAM's highest-predicted-IoU candidate by default (PointPrompt: the first)")
    parser.add_argument("--protocol", choices=("free", "pointprompt"), default="free",
                        help="pointprompt: the lab's collection rules (SAM only once both kinds of points exist; "
                             "a round ends after --patience changes that do not beat its best; two rounds)")
    parser.add_argument("--patience", type=int, default=5, help="non-improving changes that end a round (protocol mode)")
    parser.add_argument("--over-prompt-threshold", type=float, default=0.05,
                        help="warn when the IoU falls this far below the round's best (default 0.05)")
    parser.add_argument("--no-maps", action="store_true",
                        help="no gradient maps or suggested clicks (a plain annotation study); View → Gradient maps "
                             "turns them on again")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="save a screenshot of the window to this PNG after --demo-clicks, then quit")
    parser.add_argument("--demo-clicks", type=int, default=0,
                        help="place this many simulated clicks on the first image (for screenshots and smoke tests)")
    parser.add_argument("--demo-map", default=None, metavar="MAP",
                        help="with --screenshot: show this gradient map and wait for it before the screenshot")
    parser.add_argument("--demo-suggest", action="store_true",
                        help="with --screenshot: ask for a suggested next click (S) before the screenshot")
    parser.add_argument("--classifier", default=None, metavar="demo|ARCH|FILE",
                        help="open the Classifier tab with this image classifier: demo, a torchvision architecture "
                        "(with --classifier-weights) or a TorchScript file")
    parser.add_argument("--classifier-weights", type=Path, default=None, help="the --classifier architecture's weights")
    return parser.parse_args(argv)


def settings():
    """The QSettings store; $POINTPROMPT_CONFIG_DIR moves it (tests use a private one)."""
    from PySide6.QtCore import QSettings

    folder = os.environ.get("POINTPROMPT_CONFIG_DIR")
    if folder:
        return QSettings(str(Path(folder) / "studio.ini"), QSettings.Format.IniFormat)
    return QSettings("PointPrompt", "PointPrompt Studio")


def merge_with_remembered(args: argparse.Namespace, store) -> argparse.Namespace:
    """Fill choices not given on the command line from the last run, then remember this run's.

    ``--demo`` means the demo dataset with the shipped tiny SAM, whatever was remembered (a
    ``--checkpoint`` or study given on the same command line still wins: ``make run ARGS=...``).
    """
    def remembered(key: str):
        value = store.value(key)
        return (Path(value) if key not in ("device", "annotator") else str(value)) if value else None

    if args.demo:  # the demo study and, unless a checkpoint is given now, the tiny SAM
        if not (args.dataset or args.images):
            args.dataset = DEMO_DATASET
    elif not (args.dataset or args.images):
        args.dataset, args.images, args.masks = remembered("dataset"), remembered("images"), remembered("masks")
    if not args.demo and args.checkpoint is None:
        args.checkpoint = remembered("checkpoint")
    for key in ("device", "annotator", "output"):
        if getattr(args, key) is None:
            setattr(args, key, remembered(key))
    args.annotator = args.annotator or "st1"
    args.device = args.device or "auto"
    if not (args.dataset or args.images):
        args.dataset = DEMO_DATASET
    for key in REMEMBERED:
        value = getattr(args, key)
        if value is None:
            store.remove(key)
        else:
            store.setValue(key, str(value))
    store.sync()
    return args


def build_study(args: argparse.Namespace):
    from core.prompting.study import study_from_folder, study_from_image_datasets, study_order

    images = (study_from_folder(args.images, args.masks) if args.images
              else study_from_image_datasets(args.dataset, args.category))
    return study_order(images, args.seed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The model libraries first: PySide6 replaces builtins.__import__ with a slower one, and torch,
    # torchvision and segment_anything are most of the start-up (first mask 0.4 s sooner on 2 cores)
    import segment_anything  # noqa: F401  (imports torch and torchvision)
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.io.event_log import EventLogError
    from core.io.folder_lock import FolderLockedError
    from core.prompting.protocol import ProtocolRules
    from core.prompting.session import AnnotationSession, session_folder
    from core.prompting.study import StudyImageError
    from desktop.annotation_controller import ControllerOptions
    from desktop.main_window import MainWindow

    from core.gradients.sam_maps import MAPS

    if args.demo_map is not None and args.demo_map not in MAPS:
        print(f"--demo-map {args.demo_map}: expected one of {', '.join(MAPS)}", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    args = merge_with_remembered(args, settings())
    output = args.output or Path.home() / "PointPrompt Studio"
    try:
        images = build_study(args)
        session = AnnotationSession.open(session_folder(output, args.annotator), args.annotator, device=args.device,
                                         mode=args.protocol)
    except (StudyImageError, EventLogError, FolderLockedError, OSError) as error:
        QMessageBox.critical(None, "PointPrompt Studio cannot start", str(error))
        print(error, file=sys.stderr)
        return 2
    options = ControllerOptions(default_output="best" if args.best_candidate else "first", blind=args.blind,
                                over_prompt_threshold=args.over_prompt_threshold,
                                protocol=ProtocolRules(args.patience) if args.protocol == "pointprompt" else None,
                                maps=not args.no_maps)
    if args.demo_map is not None:
        options.map_style = options.map_style._replace(name=args.demo_map)
    window = MainWindow(images, session, args.checkpoint, args.variant, args.device, options, output)
    if args.classifier is not None:  # loaded as the tab first shows
        window.classifier_panel.chooser.choose(args.classifier, str(args.classifier_weights or ""))
        window.tabs.setCurrentWidget(window.classifier_panel)
    window.show()
    if args.screenshot is not None:
        from desktop.scripted_demo import run_scripted_demo

        run_scripted_demo(window, args.demo_clicks, args.screenshot, wait_for_maps=args.demo_map is not None
                          or args.demo_suggest, suggest=args.demo_suggest)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
