"""``analyze``: the prompting analysis of a results folder, written as tables and plots.

Output folder::

    timesteps.csv   one row per timestep (core.analysis.prompt_analysis.TIMESTEP_COLUMNS)
    images.csv      one row per image × annotator × round (ROUND_COLUMNS)
    summary.csv     per category and annotator (core.analysis.analysis_summary.SUMMARY_COLUMNS)
    skipped.csv     every file or folder that could not be used, why, and what was left out
    plots/*.png     core.analysis.analysis_plots.PLOT_FILES
    summary.md      what was analysed, the summary table, the skipped files by effect

Every file is written atomically. The earlier analysis's files in ``out`` are removed first and
``summary.md`` is written last, so its presence marks a complete analysis. ``timesteps.csv`` is
streamed as the images are analysed (only the small per-round rows and plot data are kept).
Empty cells: a value that does not exist (no ground truth, no event log, NaN features).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path


from core.analysis.analysis_plots import PLOT_FILES, PlotData, figures, save_png
from core.analysis.analysis_summary import SUMMARY_COLUMNS, summarise, summary_markdown
from core.analysis.prompt_analysis import (
    ROUND_COLUMNS,
    SKIPPED_COLUMNS,
    TIMESTEP_COLUMNS,
    AnalysisCancelled,  # noqa: F401  (raised by analyze; importable from here)
    AnalysisOptions,
    ResultsWalk,
)
from core.io.atomic import atomic_write
from core.io.tidy_csv import write_csv

OUTPUT_FILES = ("timesteps.csv", "images.csv", "summary.csv", "skipped.csv", "summary.md")


def analyze(results_root: str | Path, dataset_root: str | Path | None, out_dir: str | Path,
            progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
            options: AnalysisOptions | None = None, plots: bool = True) -> dict:
    """Analyse the PointPrompt results under ``results_root`` (ground truth from the "Image
    datasets" folder ``dataset_root``, or None) and write the tables and plots to ``out_dir``.

    ``progress(done, total)`` after each image × annotator; ``cancelled()`` is asked before each,
    and True stops the analysis with :class:`AnalysisCancelled` (nothing new written, the earlier
    analysis's files already removed). Returns a summary: counts, the summary rows and the paths
    written. Raises FileNotFoundError when ``results_root`` is not a folder.
    """
    out = Path(out_dir)
    options = options or AnalysisOptions()
    walk = ResultsWalk(results_root, dataset_root, options)
    for name in (*OUTPUT_FILES, *(f"plots/{p}" for p in PLOT_FILES)):
        (out / name).unlink(missing_ok=True)
    round_rows: list[dict] = []
    plot_data = PlotData()
    counts = {"images": 0, "timesteps": 0}

    def timestep_rows() -> Iterable[dict]:
        for analysis in walk.images(cancelled):
            counts["images"] += 1
            counts["timesteps"] += len(analysis.timesteps)
            round_rows.extend(analysis.rounds)
            plot_data.add(analysis.timesteps, analysis.rounds)
            yield from analysis.timesteps
            if progress is not None:
                progress(walk.done, walk.total)
        if progress is not None:
            progress(walk.total, walk.total)

    write_csv(out / "timesteps.csv", TIMESTEP_COLUMNS, timestep_rows())
    write_csv(out / "images.csv", ROUND_COLUMNS, round_rows)
    summary = summarise(round_rows)
    write_csv(out / "summary.csv", SUMMARY_COLUMNS, summary)
    skipped = [s.row() for s in walk.skipped]
    write_csv(out / "skipped.csv", SKIPPED_COLUMNS, skipped)
    written = [out / name for name in OUTPUT_FILES[:4]]
    plot_names = []
    if plots:
        for name, figure in figures(plot_data, options.over_prompt_threshold).items():
            written.append(save_png(figure, out / "plots" / name))
            plot_names.append(name)
    facts = {"results": Path(results_root).resolve().name,
             "dataset": "none" if dataset_root is None else Path(dataset_root).resolve().name,
             "event logs": ", ".join(log.path.name for log in walk.logs) or "none",
             "images × annotators": counts["images"], "rounds": len(round_rows), "timesteps": counts["timesteps"],
             "over-prompting threshold": options.over_prompt_threshold}
    text = summary_markdown(summary, facts, skipped, plot_names)
    written.append(atomic_write(out / "summary.md", lambda handle: handle.write(text.encode("utf-8"))))
    return {"results": str(results_root), "dataset": None if dataset_root is None else str(dataset_root),
            "out": str(out), "images": counts["images"], "rounds": len(round_rows), "timesteps": counts["timesteps"],
            "skipped": len(skipped), "summary": summary, "written": [str(p) for p in written]}
