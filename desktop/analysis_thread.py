"""Run the Analysis panel's prompting analysis on a thread of its own, with progress and Cancel.

Two sources: a PointPrompt "Prompting results" folder (ours or the published one) with an
optional "Image datasets" folder for the ground truth (:func:`load_results`), or the open
study's session (:func:`load_session`): it is exported to a temporary folder the way
``pointprompt export`` does, and analysed with the study's own dataset as ground truth (an image
folder study gets a temporary dataset of its prompted images). Both walk the results with
core.analysis.prompt_analysis.ResultsWalk, as ``pointprompt analyze`` does, into an
:class:`~desktop.analysis_data.AnalysisData`.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

from desktop.analysis_data import AnalysisData, TableBuilder

Progress = Callable[[str, int, int], None]


class AnalysisError(Exception):
    """The analysis cannot run; the message names the folder or file and what to do."""


def load_results(results: Path, dataset: Path | None, threshold: float = 0.05, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None, sessions: list[Path] | None = None,
                 label: str | None = None) -> AnalysisData:
    """Analyse ``results`` (ground truth from ``dataset``); raise AnalysisError when there is
    nothing to analyse, core's AnalysisCancelled when ``cancelled()`` says so."""
    from core.analysis import analysis_plots  # noqa: F401  (matplotlib for the panel's ρ, off the UI thread)
    from core.analysis.prompt_analysis import AnalysisOptions, ResultsWalk
    from core.analysis.session_timing import exported_image_ids

    try:
        walk = ResultsWalk(results, dataset, AnalysisOptions(sessions=list(sessions or []),
                                                             over_prompt_threshold=threshold))
    except (FileNotFoundError, OSError) as error:
        raise AnalysisError(str(error)) from error
    builder, ids = TableBuilder(), {}
    for analysis in walk.images(cancelled):
        if analysis.annotator not in ids:
            try:
                ids[analysis.annotator] = exported_image_ids(results, analysis.annotator)
            except (OSError, ValueError):
                ids[analysis.annotator] = {}  # core's walk has put it in skipped already
        key = (analysis.category, analysis.image_index)
        builder.add(analysis, ids[analysis.annotator].get(key, f"{key[0]}/{key[1]}"))
        if progress is not None:
            progress("analysing", walk.done, walk.total)
    skipped = [s.row() for s in walk.skipped]
    if not builder.categories:
        why = "; ".join(f"{s['source']}: {s['reason']}" for s in skipped[:3])
        raise AnalysisError(f"No prompting results could be read under {results}: expected <category>/<annotator>/"
                            f"{{eachround,points,masks,scores,sorts}}/… (a PointPrompt 'Prompting results' folder or "
                            f"one of our exports){'. ' + why if why else ''}")
    truth = "" if dataset is None else f" with ground truth from {Path(dataset).name}"
    source = label or f"{Path(results).name}{truth}"
    return builder.finish(source, threshold, skipped)


def study_dataset_root(images) -> Path | None:
    """The "Image datasets" folder all of ``images`` (StudyImage) come from, or None (an image
    folder study, or images from several datasets)."""
    roots = set()
    for image in images:
        source = Path(image.source.split(" [index ")[0])  # layout A: <root>/<category>/samples.npy [index i]
        if source.name == "samples.npy" and source.parent.name == image.category:
            roots.add(source.parent.parent)
        elif source.parent.name == image.category and source.parent.parent.name == "samples":  # layout B
            roots.add(source.parent.parent.parent)
        else:
            return None
    return roots.pop() if len(roots) == 1 else None


def _write_truth(images, folder: Path, cancelled: Callable[[], bool] | None) -> Path:
    """A layout-B dataset of ``images`` (StudyImage) with ground truth, for an image folder study."""
    for image in images:
        if cancelled is not None and cancelled():
            break
        try:
            loaded = image.load()
        except Exception:  # noqa: BLE001 (an unreadable image just has no ground truth in the analysis)
            continue
        if loaded.truth is None:
            continue
        for kind, array, name in (("samples", loaded.image, "sample"), ("labels", loaded.truth, "label")):
            target = folder / kind / image.category / f"{image.index}_{name}.npy"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, np.asarray(array, np.uint8))
    return folder


def load_session(session, images, threshold: float = 0.05, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> AnalysisData:
    """Export ``session`` (an AnnotationSession) for the study ``images`` to a temporary folder
    and analyse it; raise AnalysisError when it has no timesteps in the study."""
    from core.prompting.export import export_session

    prompted = {i for i, r in list(session.records.items()) if r.timesteps}
    study = [image for image in images if image.image_id in prompted]
    if not study:
        raise AnalysisError(f"{session.annotator}'s session ({session.folder}) has no timesteps on the images of "
                            "this study yet: prompt some images first, or open a results folder.")
    with tempfile.TemporaryDirectory(prefix="pointprompt-analysis-") as temporary:
        root = Path(temporary)
        export_session(session, images, root / "results", cancelled=cancelled,
                       progress=None if progress is None else lambda done, total: progress("exporting", done, total))
        dataset = study_dataset_root(study)
        if dataset is None:
            dataset = _write_truth(study, root / "dataset", cancelled)
        log = Path(session.folder) / "events.jsonl"
        return load_results(root / "results", dataset, threshold, progress, cancelled,
                            sessions=[log] if log.is_file() else [],
                            label=f"{session.annotator}'s session ({len(study)} prompted images)")


class AnalysisThread(QThread):
    """Runs ``work(progress, cancelled)`` (a partial of :func:`load_results` or :func:`load_session`);
    exactly one of ``succeeded`` / ``cancelled`` / ``failed`` is emitted at the end."""

    progressed = Signal(str, int, int)  # stage, done, total
    succeeded = Signal(object)  # AnalysisData
    cancelled = Signal(str)
    failed = Signal(str)  # a message naming the folder or file

    def __init__(self, work: Callable[[Progress, Callable[[], bool]], AnalysisData], parent=None) -> None:
        super().__init__(parent)
        self.work = work
        self.ran_on: int | None = None  # the thread id the work ran on (tests: never the UI thread)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        from core.analysis.prompt_analysis import AnalysisCancelled
        from core.prompting.export import ExportCancelled
        from core.prompting.session import MissingMaskError

        self.ran_on = threading.get_ident()
        try:
            data = self.work(self.progressed.emit, self._cancel.is_set)
        except (AnalysisCancelled, ExportCancelled):
            self.cancelled.emit("Analysis cancelled.")
        except (AnalysisError, MissingMaskError) as error:
            self.failed.emit(str(error))
        except OSError as error:
            self.failed.emit(f"Cannot read or write {getattr(error, 'filename', None) or 'a file'}: {error}")
        except Exception as error:  # noqa: BLE001 (a bug must still end with a message)
            self.failed.emit(f"The analysis stopped: {type(error).__name__}: {error}. Please report this.")
        else:
            if self._cancel.is_set():
                self.cancelled.emit("Analysis cancelled.")
            else:
                self.succeeded.emit(data)
