"""The ``pointprompt`` commands of the classifier trust tools (registered by core.cli):

    pointprompt explain IMAGE --classifier {demo | ARCH --weights FILE | FILE.pt}
                        [--method gradcam|gradcam++|counterfactual|contrast|contrast++]
                        [--target-class C] [--contrast-class Q] [--size N] [--class-names FILE] --out MAP.npy
    pointprompt trust IMAGE --classifier ... [--size N] [--class-names FILE] --out SCORES.json
    pointprompt evaluate-trust --images DIR [--ood DIR] [--corrupt noise,blur,contrast,jpeg]
                        --classifier ... [--limit N] --out DIR

``explain`` writes the (H, W) float32 map in [0, 1] at the image's size (and a viridis PNG beside
it); ``--size`` is the model's input side (default: the classifier's own: 224 for torchvision
models, 64 for the demo classifier); the whole image is resized, never cropped. Classes are
given by index or by name. ``trust`` writes every trust and uncertainty score of the image by
name. ``evaluate-trust`` runs core.analysis.trust_evaluation over a labelled folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from core.io.atomic import atomic_save_npy, atomic_write_bytes

METHOD_NAMES = ("gradcam", "gradcam++", "counterfactual", "contrast", "contrast++")


def load_record(args: argparse.Namespace):
    """The classifier the arguments name, with ``--size`` applied to its preprocessing."""
    from core.models.classifier_loading import load_classifier

    record = load_classifier(args.classifier, args.weights, class_names=args.class_names, device=args.device)
    if args.size is not None and args.size != record.preprocessing.size:
        record = load_classifier(args.classifier, args.weights, class_names=args.class_names, device=args.device,
                                 preprocessing=dataclasses.replace(record.preprocessing, size=args.size))
    return record


def class_index(record, value: str | None, option: str) -> int | None:
    """A class given as an index or a name → its index (None stays None)."""
    from core.models.classifier import ClassifierError

    if value is None:
        return None
    if value.isdigit() and int(value) < record.num_classes:
        return int(value)
    if value in record.class_names:
        return record.class_names.index(value)
    raise ClassifierError(f"{option} {value!r} is not a class of {record.name or 'the classifier'}: give an index "
                          f"0–{record.num_classes - 1} or one of {', '.join(record.class_names[:20])}")


def explain(args: argparse.Namespace) -> dict:
    from core.gradients.explain_image import explain_image
    from core.io.images import read_image

    image = read_image(args.image)
    record = load_record(args)
    result = explain_image(record, image, args.method, explained=class_index(record, args.target_class, "--target-class"),
                           contrast=class_index(record, args.contrast_class, "--contrast-class"))
    written = atomic_save_npy(args.out, result.map.astype(np.float32))
    ok, png = cv2.imencode(".png", cv2.applyColorMap(np.round(result.map * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS))
    preview = atomic_write_bytes(Path(args.out).with_suffix(".png"), png.tobytes()) if ok else None
    top = np.argsort(-result.probabilities)[:3]
    return {"classifier": record.name, "method": args.method, "predicted": record.class_names[result.predicted],
            "contrast": None if result.contrast is None else record.class_names[result.contrast],
            "top3": {record.class_names[i]: round(float(result.probabilities[i]), 4) for i in top},
            "map": str(written), "preview": None if preview is None else str(preview), "shape": list(result.map.shape)}


def trust(args: argparse.Namespace) -> dict:
    from core.gradients.purview import PurviewDetector
    from core.gradients.trust_scores import SCORES, image_trust_scores
    from core.io.images import read_image

    image = read_image(args.image)
    record = load_record(args)
    detector = PurviewDetector.load(args.detector) if args.detector is not None else None
    scores = image_trust_scores(record, image, detector=detector)
    prediction = int(scores.pop("prediction"))
    probabilities = _probabilities(record, image)
    top = np.argsort(-probabilities)[:3]
    document = {"image": str(args.image), "classifier": record.name, "predicted": record.class_names[prediction],
                "top3": {record.class_names[i]: round(float(probabilities[i]), 4) for i in top},
                "scores": {name: (None if not np.isfinite(value) else value) for name, value in scores.items()},
                "higher_is_trust": {name: SCORES[name].higher_is_trust for name in scores if name in SCORES}}
    written = atomic_write_bytes(args.out, (json.dumps(document, indent=1) + "\n").encode())
    return {**document, "scores_file": str(written)}


def _probabilities(record, image: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        logits = record.model(record.preprocessing.to_tensor(image, record.device))
    return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()


def _progress_line(done: int, total: int) -> None:
    """A one-line progress bar on stderr (stdout carries the JSON result)."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} images", end=end, file=sys.stderr, flush=True)


def evaluate_trust(args: argparse.Namespace) -> dict:
    from core.analysis.trust_evaluation import TrustEvaluationOptions, evaluate_trust as run_evaluation

    record = load_record(args)
    from core.analysis.corruptions import CORRUPTIONS
    from core.analysis.trust_dataset import TrustDatasetError

    corruptions = tuple(name.strip() for name in (args.corrupt or "").split(",") if name.strip())
    unknown = [name for name in corruptions if name not in CORRUPTIONS]
    if unknown:
        raise TrustDatasetError(f"--corrupt: unknown corruption {', '.join(unknown)}; choose from {','.join(CORRUPTIONS)}")
    options = TrustEvaluationOptions(batch_size=args.batch_size)
    result = run_evaluation(record, args.images, args.ood, corruptions, args.out,
                            progress=_progress_line if not args.quiet else (lambda done, total: None),
                            options=options)
    clean = result.summary.get("clean", {})
    return {"classifier": record.name, "images": clean.get("images"), "accuracy": clean.get("accuracy"),
            "bad_files": len(result.summary.get("bad_files", [])), "problems": len(result.summary.get("problems", [])),
            "written": [str(path) for path in result.written]}


def _classifier_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classifier", required=True,
                        help="demo, a torchvision architecture name (with --weights) or a TorchScript file")
    parser.add_argument("--weights", type=Path, default=None, help="the architecture's weights (.pth or .safetensors)")
    parser.add_argument("--class-names", type=Path, default=None, help="a JSON list or a text file, one name per line")
    parser.add_argument("--size", type=int, default=None, help="the model's input side (default: the classifier's own)")
    parser.add_argument("--device", default="cpu")


def add_classifier_commands(commands) -> None:
    """Register the classifier commands on core.cli's sub-parsers."""
    parser = commands.add_parser("explain", help="an explanation map of a classifier's prediction")
    parser.add_argument("image", type=Path)
    _classifier_arguments(parser)
    parser.add_argument("--method", choices=METHOD_NAMES, default="gradcam")
    parser.add_argument("--target-class", default=None, help="the class P to explain (default: the prediction)")
    parser.add_argument("--contrast-class", default=None, help="Q for contrast methods (default: the second best)")
    parser.add_argument("--out", type=Path, required=True, help="MAP.npy ((H, W) float32; a PNG is written beside)")

    parser = commands.add_parser("trust", help="every trust and uncertainty score of a classifier's prediction")
    parser.add_argument("image", type=Path)
    _classifier_arguments(parser)
    parser.add_argument("--detector", type=Path, default=None,
                        help="a purview_detector.json written by evaluate-trust (adds the 'purview' score)")
    parser.add_argument("--out", type=Path, required=True, help="SCORES.json")

    parser = commands.add_parser("evaluate-trust", help="trust scores over a labelled image folder: AUAC, AUFC, "
                                 "misprediction AUROC; OOD and corruption detection")
    parser.add_argument("--images", type=Path, required=True, help="class subfolders, or a CSV of path,label rows")
    parser.add_argument("--ood", type=Path, default=None, help="a folder of out-of-distribution images")
    parser.add_argument("--corrupt", default="", help="comma-separated: noise,blur,contrast,jpeg (5 levels each)")
    _classifier_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--out", type=Path, required=True, help="folder for per_image.csv, summary.json, summary.md")


CLASSIFIER_COMMANDS = {"explain": explain, "trust": trust, "evaluate-trust": evaluate_trust}
