"""Evaluate a classifier's trust scores over a labelled dataset, with optional OOD and corruptions.

:func:`evaluate_trust` reads every image (core.io.images.read_image; unreadable files are
listed, not fatal), resizes it to the model's input size as its preprocessing would, and
scores, batch by batch (core.gradients.trust_scores):

* ``clean``: the images as they are;
* ``<corruption>-<level>``: each requested corruption at levels 1..5 (core.analysis.corruptions,
  applied at the input size, noise seeded per image and level);
* ``ood``: the images of ``ood_dir``;
* the Purview detector's challenge sets (``detector_challenges``, noise and blur by default),
  computed even when not requested, to train the detector (core.analysis.purview_fitting);
  its ``purview`` scores are out of fold.

Outputs in ``out_dir`` (each written atomically): ``per_image.csv`` (one row per image and
set, every score), ``summary.json`` and ``summary.md`` (core.analysis.trust_report: AUAC, AUFC,
misprediction AUROC per score and set; OOD and corruption detection AUROC / AUPR / FPR@95 /
detection accuracy), ``purview_features.npz`` (the per-layer features, sets, groups) and
``purview_detector.json`` (the detector fitted on everything, for :func:`image_trust_scores`).

``progress(done, total)`` counts image files; ``cancelled()`` is asked before every batch and
raises :class:`EvaluationCancelled` when it answers True.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from core.analysis import trust_report
from core.analysis.corruptions import CORRUPTIONS, LEVELS, corrupt
from core.analysis.purview_fitting import cross_fit_purview
from core.analysis.trust_dataset import LabelledImage, TrustDatasetError, list_labelled_images, list_ood_images
from core.gradients.purview import PurviewDetector
from core.gradients.trust_scores import SCORES, TrustOptions, compute_trust_scores, image_trust_scores
from core.io.atomic import atomic_write
from core.io.images import ImageReadError, read_image
from core.models.classifier import ClassifierRecord

__all__ = ["EvaluationCancelled", "TrustEvaluation", "TrustEvaluationOptions", "evaluate_trust",
           "image_trust_scores"]


class EvaluationCancelled(Exception):
    """The evaluation was cancelled; nothing was written."""


@dataclass(frozen=True)
class TrustEvaluationOptions:
    """batch_size: images per model call; trust: which scores and their settings;
    detector_challenges: corruptions whose levels (with any OOD images) train the Purview
    detector; detector_folds: folds of its out-of-fold scoring; grid_points: the rejection grid
    (core.analysis.trust_metrics); seed: corruption noise, tie-breaking, fold assignment."""

    batch_size: int = 32
    trust: TrustOptions = TrustOptions()
    detector_challenges: tuple[str, ...] = ("noise", "blur")
    detector_folds: int = 5
    grid_points: int | None = 100
    seed: int = 0


@dataclass
class TrustEvaluation:
    """rows: one dict per (image, set); summary: see core.analysis.trust_report.summarise;
    features: (N, L) Purview features of the rows (None when not computed); written: files."""

    rows: list[dict]
    summary: dict
    features: np.ndarray | None = None
    layer_names: list[str] = field(default_factory=list)
    detector: PurviewDetector | None = None
    written: list[Path] = field(default_factory=list)


def to_input_size(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8, interpolated as core.models.classifier.Preprocessing does."""
    shrinking = image.shape[0] > size or image.shape[1] > size
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _score_names(options: TrustEvaluationOptions) -> list[str]:
    names = list(options.trust.scores) if options.trust.scores is not None else list(SCORES)
    unknown = [name for name in names if name not in SCORES]
    if unknown:
        raise KeyError(f"unknown trust score {', '.join(unknown)}; known: {', '.join(SCORES)}")
    return names


def _variants(corruptions: Sequence[str], challenges: Sequence[str]) -> list[tuple[str, int]]:
    names = list(dict.fromkeys(list(corruptions) + list(challenges)))
    unknown = [name for name in names if name not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruption {', '.join(unknown)}; choose from {', '.join(CORRUPTIONS)}")
    return [(name, level) for name in names for level in range(1, LEVELS + 1)]


def _noise_seed(seed: int, group: int, name: str, level: int) -> int:
    return int(np.random.SeedSequence([seed, group, CORRUPTIONS.index(name), level]).generate_state(1)[0])


def _read_batch(entries: list[tuple[int, LabelledImage]], size: int,
                bad_files: list[dict]) -> list[tuple[int, LabelledImage, np.ndarray]]:
    """Read and resize a batch's images: (group, item, (S, S, 3) uint8); failures go to ``bad_files``."""
    images = []
    for group, item in entries:
        try:
            images.append((group, item, to_input_size(read_image(item.path), size)))
        except ImageReadError as error:
            bad_files.append({"path": str(item.path), "error": str(error)})
    return images


def _score_set(record: ClassifierRecord, set_name: str, batch: list[tuple[int, LabelledImage, np.ndarray]],
               trust: TrustOptions, rows: list[dict], features: list[np.ndarray], layers: list[str]) -> None:
    if not batch:
        return
    inputs = record.preprocessing.to_tensor([image for _, _, image in batch], record.device)
    scores = compute_trust_scores(record, inputs, trust)
    layer_keys = [key for key in scores if key.startswith("purview.")]
    if layer_keys and not layers:
        layers.extend(key.removeprefix("purview.") for key in layer_keys)
    if layer_keys:
        features.append(np.stack([scores[f"purview.{layer}"] for layer in layers], axis=1))
    corruption, _, level = set_name.partition("-")
    for b, (group, item, _) in enumerate(batch):
        prediction = int(scores["prediction"][b])
        row = {"set": set_name, "corruption": corruption if level else "", "level": int(level) if level else 0,
               "path": str(item.path), "image_id": group, "label": item.label,
               "label_name": record.class_names[item.label] if item.label >= 0 else "",
               "prediction": prediction, "prediction_name": record.class_names[prediction],
               "correct": int(prediction == item.label) if item.label >= 0 else ""}
        row.update({name: float(values[b]) for name, values in scores.items()
                    if name != "prediction" and not name.startswith("purview.")})
        rows.append(row)


def _write_outputs(out_dir: Path, result: TrustEvaluation, score_names: list[str], groups: np.ndarray) -> list[Path]:
    columns = ["set", "corruption", "level", "path", "image_id", "label", "label_name", "prediction",
               "prediction_name", "correct"] + score_names
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(result.rows)
    files = {"per_image.csv": text.getvalue().encode(),
             "summary.json": json.dumps(result.summary, indent=1).encode(),
             "summary.md": trust_report.markdown_tables(result.summary).encode()}
    written = []
    for name, content in files.items():
        written.append(atomic_write(out_dir / name, lambda handle, content=content: handle.write(content)))
    if result.features is not None:
        arrays = {"features": result.features, "layers": np.array(result.layer_names, dtype=str),
                  "sets": np.array([row["set"] for row in result.rows], dtype=str), "groups": groups}
        written.append(atomic_write(out_dir / "purview_features.npz",
                                    lambda handle: np.savez(handle, **arrays)))
    if result.detector is not None:
        written.append(result.detector.save(out_dir / "purview_detector.json"))
    return written


def _add_purview(result: TrustEvaluation, groups: np.ndarray, challenges: set[str],
                 options: TrustEvaluationOptions, notes: list[str]) -> None:
    fitted = cross_fit_purview(result.features, result.layer_names, [row["set"] for row in result.rows], groups,
                               challenges, options.detector_folds, options.seed)
    if fitted is None:
        notes.append("Purview detector: no challenge data (no OOD images, no detector challenges): not fitted.")
        for row in result.rows:
            row["purview"] = float("nan")
        return
    for row, value in zip(result.rows, fitted.scores):
        row["purview"] = float(value)
    result.detector = fitted.detector
    seen = sorted({name.split("-")[0] for name in fitted.detector.info["challenge_sets"]})
    seen = [name if name == "ood" else f"{name} (levels 1-{LEVELS})" for name in seen]
    notes.append(f"Purview detector: logistic regression on log per-layer squared gradient norms, clean vs "
                 f"{', '.join(seen)}; scores out of fold ({fitted.folds} folds "
                 f"grouped by source image){' (some in sample)' if fitted.in_sample else ''}. On those challenge "
                 "types its detection numbers are for a seen type of challenge.")


def _score_entries(record: ClassifierRecord, entries: list[tuple[int, LabelledImage]],
                   variants: list[tuple[str, int]], trust: TrustOptions, options: TrustEvaluationOptions,
                   progress: Callable[[int, int], None], cancelled: Callable[[], bool]
                   ) -> tuple[list[dict], list[np.ndarray], list[str], list[dict]]:
    """Batch by batch: read, score clean / OOD images and every corrupted variant of the clean ones.

    Returns (rows, per-batch (n, L) Purview features, the L layer names, bad files).
    """
    rows: list[dict] = []
    features: list[np.ndarray] = []
    layers: list[str] = []
    bad_files: list[dict] = []
    size = record.preprocessing.size
    for start in range(0, len(entries), options.batch_size):
        if cancelled():
            raise EvaluationCancelled("trust evaluation cancelled")
        batch = _read_batch(entries[start:start + options.batch_size], size, bad_files)
        labelled = [entry for entry in batch if entry[1].label >= 0]
        _score_set(record, "clean", labelled, trust, rows, features, layers)
        _score_set(record, "ood", [entry for entry in batch if entry[1].label < 0], trust, rows, features, layers)
        for name, level in variants:
            if cancelled():
                raise EvaluationCancelled("trust evaluation cancelled")
            corrupted = [(group, item, corrupt(image, name, level, _noise_seed(options.seed, group, name, level),
                                               reference_size=224)) for group, item, image in labelled]
            _score_set(record, f"{name}-{level}", corrupted, trust, rows, features, layers)
        progress(min(start + options.batch_size, len(entries)), len(entries))
    return rows, features, layers, bad_files


def evaluate_trust(record: ClassifierRecord, images_dir: str | Path, ood_dir: str | Path | None = None,
                   corruptions: Sequence[str] = (), out_dir: str | Path | None = None,
                   progress: Callable[[int, int], None] = lambda done, total: None,
                   cancelled: Callable[[], bool] = lambda: False,
                   options: TrustEvaluationOptions = TrustEvaluationOptions()) -> TrustEvaluation:
    """Score every image of ``images_dir`` (class subfolders, or a path,label CSV), of ``ood_dir``
    and of each corruption at 5 levels; summarise; write to ``out_dir`` when given."""
    score_names = _score_names(options)
    wants_purview = "purview" in score_names
    corruptions = tuple(dict.fromkeys(corruptions))
    variants = _variants(corruptions, options.detector_challenges if wants_purview else ())
    items, problems = list_labelled_images(images_dir, record.class_names)
    ood = list_ood_images(ood_dir) if ood_dir is not None else []
    entries = list(enumerate(items + ood))
    trust = replace(options.trust, scores=tuple(name for name in score_names if name != "purview"))
    if wants_purview and "purview_total" not in trust.scores:
        trust = replace(trust, scores=trust.scores + ("purview_total",))
    rows, features, layers, bad_files = _score_entries(record, entries, variants, trust, options, progress, cancelled)
    if not any(row["set"] == "clean" for row in rows):
        raise TrustDatasetError(f"none of the {len(items)} labelled images of {images_dir} could be read: "
                                + "; ".join(bad["error"] for bad in bad_files[:3]))
    result = TrustEvaluation(rows, {}, np.concatenate(features) if features else None, layers)
    groups = np.array([row["image_id"] for row in rows])
    notes: list[str] = []
    if wants_purview and result.features is not None:
        challenges = {"ood"} | {f"{name}-{level}" for name in options.detector_challenges
                                for level in range(1, LEVELS + 1)}
        _add_purview(result, groups, challenges, options, notes)
    reported = [row for row in rows if row["set"] in ("clean", "ood") or row["corruption"] in corruptions]
    summary = trust_report.summarise(reported, score_names, corruptions, options.grid_points, options.seed)
    summary.update({"classifier": record.name or type(record.model).__name__, "classes": record.num_classes,
                    "images_dir": str(images_dir), "ood_dir": str(ood_dir) if ood_dir is not None else None,
                    "bad_files": bad_files, "problems": problems, "notes": notes,
                    "settings": {"odin_temperature": trust.odin_temperature, "odin_epsilon": trust.odin_epsilon,
                                 "mc_passes": trust.mc_passes, "gradtrust_k": trust.gradtrust_k,
                                 "gradtrust_loss": trust.gradtrust_loss, "input_size": record.preprocessing.size}})
    result.summary = summary
    if out_dir is not None:
        result.written = _write_outputs(Path(out_dir), result, score_names, groups)
    return result
