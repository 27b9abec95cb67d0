"""Write a labelled image folder for the demo classifier, from fixed seeds.

    python packaging/make_demo_classifier_data.py --out DIR [--per-class 50] [--ood-per-class 50]

Layout (64×64 RGB PNGs; the same command always writes the same images):

    DIR/test/<class>/<class>_0000.png ...   in-distribution test images, one folder per class the
                                            demo classifier knows (disc, ring, square, triangle,
                                            cross, star); never used in training
    DIR/ood/<ood-class>/<ood-class>_0000.png ...
                                            out-of-distribution images, one folder per shape the
                                            classifier never saw (crescent, hexagon, arrow, heart)
    DIR/test/classes.txt, DIR/ood/classes.txt   the folder names in label order, one per line
    DIR/masks/<split>/<class>/<name>.png    the shape's mask (0 / 255), for explanation checks

Made for ``pointprompt evaluate-trust --images DIR/test --ood DIR/ood``: the label of a test
image is the name of its folder, which is the demo classifier's class name. Images are drawn
by core.synthetic.shape_classes.balanced_set from seeds of their own (``--seed`` for test,
``--seed + 1`` for OOD), apart from the training script's seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.atomic import atomic_write_bytes  # noqa: E402
from core.synthetic.shape_classes import CLASSES, DEFAULT_SIZE, OOD_CLASSES, balanced_set  # noqa: E402

DATA_SEED = 20261210


def _write_png(path: Path, array: np.ndarray) -> None:
    """Atomically write an (H, W, 3) RGB or (H, W) grey uint8 array as PNG."""
    ok, data = cv2.imencode(".png", array[..., ::-1] if array.ndim == 3 else array)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    atomic_write_bytes(path, data.tobytes(), durable=False)


def write_split(out: Path, split: str, seed: int, per_class: int, classes: tuple[str, ...], size: int) -> int:
    """Write ``out/split/<class>/*.png`` (and masks, classes.txt); returns the image count."""
    for index, item in enumerate(balanced_set(seed, per_class, classes, size)):
        name = f"{item.class_name}_{index % per_class:04d}.png"
        _write_png(out / split / item.class_name / name, item.image)
        _write_png(out / "masks" / split / item.class_name / name, item.mask.astype(np.uint8) * 255)
    atomic_write_bytes(out / split / "classes.txt", "".join(f"{name}\n" for name in classes).encode())
    return per_class * len(classes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=50, help="test images per in-distribution class")
    parser.add_argument("--ood-per-class", type=int, default=50, help="images per out-of-distribution class")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--seed", type=int, default=DATA_SEED)
    args = parser.parse_args(argv)
    count = write_split(args.out, "test", args.seed, args.per_class, CLASSES, args.size)
    print(f"{args.out / 'test'}: {count} images of {len(CLASSES)} classes")
    count = write_split(args.out, "ood", args.seed + 1, args.ood_per_class, OOD_CLASSES, args.size)
    print(f"{args.out / 'ood'}: {count} images of {len(OOD_CLASSES)} out-of-distribution classes")


if __name__ == "__main__":
    main()
