"""Replaying an exported sequence through the same model gives back the recorded scores."""

import numpy as np

from core.analysis.replay import prompts_at, rerun_scores
from core.io.pointprompt_results import ResultStep, read_image_results, write_image_results
from core.models.sam_engine import SamEngine
from core.paths import DEMO_DATASET
from core.prompting.metrics import iou
from core.prompting.study import study_from_image_datasets


def test_rerun_reproduces_the_scores_of_the_same_model(tmp_path):
    engine = SamEngine.from_checkpoint(None, device="cpu", cache_dir=False)
    loaded = study_from_image_datasets(DEMO_DATASET, ["star"])[3].load()
    embedding = engine.embed(loaded.image)
    sets = [(np.array([[160, 120]]), np.zeros((0, 2))), (np.array([[160, 120]]), np.array([[10, 10]])),
            (np.array([[160, 120], [150, 100]]), np.array([[10, 10]]))]
    steps = []
    for green, red in sets:
        points = np.concatenate([green, red])
        labels = np.array([1] * len(green) + [0] * len(red))
        mask = engine.decode(embedding, points, labels).masks[0]
        steps.append(ResultStep(0, green, red, iou(mask, loaded.truth), mask))
    write_image_results(tmp_path, 3, steps)
    results = read_image_results(tmp_path, 3)
    points, labels = prompts_at(results, 2)
    assert points.tolist() == [[160, 120], [150, 100], [10, 10]] and labels.tolist() == [1, 1, 0]
    scores = rerun_scores(engine, loaded.image, loaded.truth, results)
    np.testing.assert_allclose(scores, results.scores)
    assert np.isnan(rerun_scores(engine, loaded.image, loaded.truth, results, cancelled=lambda: True)).all()
