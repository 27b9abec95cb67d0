"""``pointprompt-studio``: start the app; with no arguments, the shipped tiny SAM on the demo dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.paths import DEMO_DATASET


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pointprompt-studio", description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DEMO_DATASET,
                        help="a PointPrompt 'Image datasets' folder (default: the shipped demo dataset)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="an official SAM checkpoint (vit_h, vit_l, vit_b); default: the shipped tiny SAM")
    parser.add_argument("--variant", choices=("vit_h", "vit_l", "vit_b", "tiny"), default=None,
                        help="insist on this variant (it is detected from the file otherwise)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, cuda:1, mps or cpu")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="save a screenshot of the window to this PNG after --demo-clicks, then quit")
    parser.add_argument("--demo-clicks", type=int, default=0,
                        help="place this many simulated clicks on the first image (for screenshots and smoke tests)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(args.dataset, args.checkpoint, args.variant, args.device)
    window.show()
    if args.screenshot is not None:
        from desktop.scripted_demo import run_scripted_demo

        run_scripted_demo(window, args.demo_clicks, args.screenshot)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
