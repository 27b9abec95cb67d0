"""Each intervention builds the right prompt sets, and attribution takes the right differences."""

import numpy as np
import pytest

from core.analysis.click_attribution import click_rows, click_sets, round_ends, timestep_rows
from core.analysis.click_tracking import track_clicks
from core.analysis.interventions import (
    INTERVENTIONS,
    BoundaryGeometry,
    intervened_sequence,
    recorded_set,
    reorder_partner,
    resolve_interventions,
    set_key,
)
from tests.replay_helpers import as_lists, hand_made


@pytest.fixture
def tracked():
    return track_clicks(*hand_made())


def square_truth():
    """100×100 image whose object is the square x, y in [0, 39]."""
    truth = np.zeros((100, 100), bool)
    truth[:40, :40] = True
    return truth


def test_leave_one_out_drops_the_click_from_every_set_it_is_in(tracked):
    sets = [as_lists(s) for s in intervened_sequence(tracked, "leave_one_out", 2)]
    assert sets[0] == [[[10, 10]], [[50, 50]]]  # before the click: as recorded
    assert sets[1] == [[[10, 10]], [[50, 50]]]
    assert sets[2] == [[[10, 10]], [[55, 50]]]
    assert sets[3] == [[], [[55, 50]]]
    assert sets[4:] == [as_lists(recorded_set(tracked, t)) for t in (4, 5)]  # the other round
    removed_early = [as_lists(s) for s in intervened_sequence(tracked, "leave_one_out", 0)]
    assert removed_early[3] == as_lists(recorded_set(tracked, 3))  # click 0 was removed at t=3
    moved = [as_lists(s) for s in intervened_sequence(tracked, "leave_one_out", 1)]
    assert moved[:4] == [[[[10, 10]], []], [[[10, 10], [20, 20]], []], [[[10, 10], [20, 20]], []], [[[20, 20]], []]]


def test_reorder_swaps_a_click_with_the_next_one_of_its_round(tracked):
    assert [reorder_partner(tracked, k) for k in range(5)] == [None, 2, None, 4, None]
    assert intervened_sequence(tracked, "reorder", 0) is None  # clicks 0 and 1 came together
    sets = [as_lists(s) for s in intervened_sequence(tracked, "reorder", 1)]
    assert sets[0] == [[[10, 10], [20, 20]], []]  # click 2 in place of click 1 before t=1
    assert sets[1:] == [as_lists(recorded_set(tracked, t)) for t in range(1, 6)]
    sets = [as_lists(s) for s in intervened_sequence(tracked, "reorder", 3)]
    assert sets[4] == [[], [[60, 60]]] and sets[5] == as_lists(recorded_set(tracked, 5))


def test_moves_go_toward_or_away_from_the_nearest_boundary_point():
    geometry = BoundaryGeometry(square_truth(), distance=5)
    assert geometry.nearest(30, 10)[1] == pytest.approx(9.5)
    assert geometry.move(30, 10, "toward") == (35, 10) and geometry.move(30, 10, "away") == (25, 10)
    assert geometry.move(50, 20, "toward") == (45, 20) and geometry.move(50, 20, "away") == (55, 20)
    far = BoundaryGeometry(square_truth(), distance=20)
    assert far.move(30, 10, "toward") == (39, 10)  # stops half a pixel before the boundary at x = 39.5
    assert far.move(95, 20, "away") == (99, 20)  # clipped to the image
    assert BoundaryGeometry.for_image(square_truth()).distance == 2.0  # 2 % of the longer side
    assert BoundaryGeometry.for_image(square_truth(), move_px=7).distance == 7


def test_a_move_applies_wherever_the_click_is(tracked):
    truth = np.zeros((100, 100), bool)
    truth[:, 40:] = True  # the boundary is the vertical line x = 39.5
    geometry = BoundaryGeometry(truth, distance=5)
    sets = [as_lists(s) for s in intervened_sequence(tracked, "move_toward", 1, geometry)]
    # inside the object, nearest boundary at x = 39.5: 5 px to the left, from wherever the click is
    assert sets[0][1] == sets[1][1] == [[45, 50]]  # recorded at (50, 50)
    assert sets[2][1] == sets[3][1] == [[50, 50]]  # moved by the annotator to (55, 50)
    assert sets[0][0] == [[10, 10]]  # the other clicks stay
    with pytest.raises(ValueError, match="BoundaryGeometry"):
        intervened_sequence(tracked, "move_away", 1)


def test_intervention_names():
    assert resolve_interventions("leave-one-out,move,reorder") == INTERVENTIONS
    assert resolve_interventions("move") == ("move_toward", "move_away")
    assert resolve_interventions("reorder,leave_one_out") == ("leave_one_out", "reorder")
    assert resolve_interventions("none") == () and resolve_interventions("all") == INTERVENTIONS
    with pytest.raises(ValueError, match="unknown intervention 'swap'"):
        resolve_interventions("swap")
    assert set_key(recorded_set(track_clicks(*hand_made()), 1)) != set_key(recorded_set(track_clicks(*hand_made()), 2))


def scripted_score(prompt):
    """A stand-in for SAM's IoU: 0.1 per inclusion point, 0.01 per exclusion point."""
    return 0.1 * len(prompt[0]) + 0.01 * len(prompt[1])


def test_attribution_on_a_scripted_score(tracked):
    replayed = np.array([scripted_score(recorded_set(tracked, t)) for t in range(len(tracked))])
    assert replayed.round(2).tolist() == [0.11, 0.21, 0.21, 0.11, 0.1, 0.11]
    assert round_ends(tracked, replayed) == {0: (3, 1), 1: (5, 5)}  # best: the earliest of the ties
    where = {"category": "c", "annotator": "st1", "image_index": 0}
    steps = timestep_rows(tracked, np.full(6, np.nan), replayed, where)
    assert [r["is_best"] for r in steps] == [0, 1, 0, 0, 0, 1] and steps[0]["iou_recorded"] is None
    assert [r["clicks_added"] for r in steps] == ["0 1", "2", "", "", "3", "4"]
    sets = click_sets(tracked, replayed, ("leave_one_out", "reorder"), None)
    rows = {(r["click"], r["intervention"]): r for r in click_rows(tracked, replayed, sets, None, scripted_score, where)}
    assert sorted(rows) == [(0, "leave_one_out"), (1, "leave_one_out"), (1, "reorder"), (2, "leave_one_out"),
                            (3, "leave_one_out"), (3, "reorder"), (4, "leave_one_out")]
    two = rows[(2, "leave_one_out")]  # without click 2, the final set is {} + {(55, 50)}: 0.01
    assert two["delta_final"] == pytest.approx(-0.10) and two["delta_best"] == pytest.approx(-0.10)
    assert (two["final_timestep"], two["best_timestep"], two["after_best"]) == (3, 1, 0)
    zero = rows[(0, "leave_one_out")]  # removed at t=3: the final set is unchanged
    assert zero["delta_final"] == 0 and zero["delta_best"] == pytest.approx(-0.10) and zero["removed_at"] == 3
    one = rows[(1, "leave_one_out")]
    assert one["delta_final"] == pytest.approx(-0.01) and one["moves"] == 1 and one["label"] == "exclusion"
    assert rows[(1, "reorder")]["delta_final"] == 0 and rows[(1, "reorder")]["partner"] == 2
    four = rows[(4, "leave_one_out")]
    assert four["after_best"] == 0 and four["delta_final"] == pytest.approx(-0.01)
    assert rows[(3, "reorder")]["delta_best"] == 0  # best (t=5) holds both clicks
