"""A hand-made recorded sequence for the click-tracking, intervention and attribution tests.

    t  round  inclusion            exclusion      change
    0  0      (10,10)              (50,50)        several: clicks 0 (incl.) and 1 (excl.)
    1  0      (10,10) (20,20)      (50,50)        add: click 2
    2  0      (10,10) (20,20)      (55,50)        move: click 1
    3  0      (20,20)              (55,50)        remove: click 0
    4  1      (30,30)              —              add: click 3 (a new round starts from no points)
    5  1      (30,30)              (60,60)        add: click 4
"""

import numpy as np

ROUNDS = np.array([0, 0, 0, 0, 1, 1])
GREEN = [[[10, 10]], [[10, 10], [20, 20]], [[10, 10], [20, 20]], [[20, 20]], [[30, 30]], [[30, 30]]]
RED = [[[50, 50]], [[50, 50]], [[55, 50]], [[55, 50]], [], [[60, 60]]]


def hand_made():
    """(rounds, green, red) as ImageResults holds them: (n, 2) float64 arrays (x, y)."""
    as_arrays = lambda sets: [np.array(s, np.float64).reshape(-1, 2) for s in sets]  # noqa: E731
    return ROUNDS, as_arrays(GREEN), as_arrays(RED)


def as_lists(prompt):
    """A prompt set (inclusion, exclusion) as nested lists of (x, y), for comparisons."""
    return [np.asarray(prompt[0]).tolist(), np.asarray(prompt[1]).tolist()]


def tiny_study(root, engine, categories=2, images=2, timesteps=7, annotators=1, seed=0):
    """A synthetic study under ``root`` (dataset/ and results/), recorded with ``engine``; returns both paths."""
    from core.synthetic.prompt_study import write_synthetic_study

    dataset, results = root / "dataset", root / "results"
    write_synthetic_study(engine, dataset, results, categories=categories, images=images, timesteps=timesteps,
                          annotators=annotators, size=(96, 128), seed=seed)
    return dataset, results


def csv_texts(out):
    """The merged tables of a replay folder, as text."""
    return {name: (out / name).read_text() for name in ("timesteps.csv", "clicks.csv", "summary.csv", "skipped.csv")}
