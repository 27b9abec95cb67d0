"""PromptSet: immutable edits, arrays in SAM's form, per-label sets, JSON round trip."""

import numpy as np
import pytest

from core.prompting.prompt_set import PromptSet


def test_edits_return_new_sets_and_keep_order():
    empty = PromptSet()
    one = empty.added(10, 20, 1)
    two = one.added(30, 40, 0).added(50, 60, 1)
    assert len(empty) == 0 and len(one) == 1 and len(two) == 3
    assert two.coords.tolist() == [[10, 20], [30, 40], [50, 60]]
    assert two.labels.tolist() == [1, 0, 1]
    assert two.removed(1).coords.tolist() == [[10, 20], [50, 60]]
    moved = two.moved(0, 11, 21)
    assert moved.coords[0].tolist() == [11, 21] and moved.labels[0] == 1
    assert two.coords[0].tolist() == [10, 20]  # original untouched


def test_per_label_sets_are_int_xy_and_counts():
    prompts = PromptSet().added(1, 2, 1).added(3, 4, 0).added(5, 6, 1)
    assert prompts.of_label(1).tolist() == [[1, 2], [5, 6]]
    assert prompts.of_label(0).dtype == np.int64 and prompts.of_label(0).tolist() == [[3, 4]]
    assert PromptSet().of_label(0).shape == (0, 2)
    assert prompts.counts == (2, 1)


def test_json_round_trip_and_bad_label():
    prompts = PromptSet().added(1, 2, 1).added(3, 4, 0)
    assert PromptSet.from_json(prompts.to_json()) == prompts
    with pytest.raises(ValueError, match="label"):
        prompts.added(0, 0, 2)
