"""The over-prompting warning compares the latest IoU with the best of its round."""

from core.analysis.over_prompting import over_prompting_status


def test_warns_only_beyond_the_threshold_within_the_round():
    status = over_prompting_status([0.5, 0.9, 0.8], [0, 0, 0], threshold=0.05)
    assert status.best_index == 1 and status.warn and abs(status.gap - 0.1) < 1e-12
    assert not over_prompting_status([0.5, 0.9, 0.88], [0, 0, 0], threshold=0.05).warn
    # a new round is compared with its own best only
    status = over_prompting_status([0.5, 0.9, 0.3, 0.4], [0, 0, 1, 1], threshold=0.05)
    assert status.best_index == 3 and not status.warn
    assert over_prompting_status([0.7, 0.7], [0, 0]).best_index == 0  # earliest on ties


def test_no_scores_no_warning():
    assert not over_prompting_status([], []).warn
    assert not over_prompting_status([None, None], [0, 0]).warn


def test_the_best_timestep_is_the_highest_iou_earliest_on_ties_of_a_round_or_all():
    from core.analysis.over_prompting import best_index

    ious, rounds = [0.5, None, 0.9, 0.9, 0.95, 0.2], [0, 0, 0, 0, 1, 1]
    assert best_index(ious, rounds) == 4
    assert best_index(ious, rounds, 0) == 2  # earliest of the tie, unscored skipped
    assert best_index(ious, rounds, 1) == 4
    assert best_index([None, None], [0, 0]) is None and best_index([], []) is None
