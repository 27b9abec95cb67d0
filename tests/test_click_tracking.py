"""Clicks derived from cumulative point sets: additions, moves, removals, rounds."""

import numpy as np

from core.analysis.click_tracking import Click, track_clicks
from tests.replay_helpers import hand_made


def test_each_timestep_is_tied_to_the_clicks_behind_it():
    tracked = track_clicks(*hand_made())
    assert tracked.changes == ["several", "add", "move", "remove", "add", "add"]
    assert tracked.clicks == [
        Click(0, 0, 1, first=0, last=2, removed=3, moved=()),
        Click(1, 0, 0, first=0, last=3, removed=None, moved=(2,)),
        Click(2, 0, 1, first=1, last=3, removed=None, moved=()),
        Click(3, 1, 1, first=4, last=5, removed=None, moved=()),
        Click(4, 1, 0, first=5, last=5, removed=None, moved=()),
    ]
    assert [tracked.added_at(t) for t in range(6)] == [[0, 1], [2], [], [], [3], [4]]
    assert tracked.position(1, 1) == (50.0, 50.0) and tracked.position(1, 2) == (55.0, 50.0)
    assert tracked.position(0, 3) is None
    assert tracked.green_ids[3].tolist() == [2] and tracked.red_ids[3].tolist() == [1]


def test_duplicates_unchanged_sets_and_a_move_among_several_points():
    rounds = np.zeros(4, np.int64)
    green = [np.array([[5, 5], [5, 5]], float), np.array([[5, 5], [5, 5]], float),
             np.array([[5, 5], [9, 5]], float), np.array([[5, 5], [9, 5], [1, 1]], float)]
    red = [np.array([[0, 0]], float)] * 4
    tracked = track_clicks(rounds, green, red)
    assert tracked.changes == ["several", "unchanged", "move", "add"]
    assert tracked.green_ids[2].tolist() == [0, 1] and tracked.clicks[1].moved == (2,)
    assert tracked.green_ids[3].tolist() == [0, 1, 3]


def test_a_remove_and_an_add_of_different_labels_are_two_changes():
    rounds = np.zeros(2, np.int64)
    green = [np.array([[5, 5]], float), np.array([[5, 5], [7, 7]], float)]
    red = [np.array([[0, 0], [3, 3]], float), np.array([[3, 3]], float)]
    tracked = track_clicks(rounds, green, red)
    assert tracked.changes == ["several", "several"]
    assert tracked.clicks[1].removed == 1 and tracked.clicks[3].first == 1
