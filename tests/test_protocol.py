"""The PointPrompt collection protocol's rules."""

from core.prompting.prompt_set import PromptSet
from core.prompting.protocol import (
    CLOSE_IMAGE,
    CONTINUE,
    NEW_ROUND,
    ProtocolRules,
    changes_without_improvement,
    protocol_decision,
    ready_to_decode,
)


def test_sam_runs_only_with_both_kinds_of_points():
    assert not ready_to_decode(PromptSet())
    assert not ready_to_decode(PromptSet().added(1, 1, 1).added(2, 2, 1))
    assert ready_to_decode(PromptSet().added(1, 1, 1).added(2, 2, 0))


def test_patience_counts_changes_that_did_not_beat_the_best():
    assert changes_without_improvement([]) == 0
    assert changes_without_improvement([0.5, 0.6, 0.55, 0.6]) == 2  # equal is not better
    assert changes_without_improvement([0.5, 0.4, 0.7]) == 0
    rules = ProtocolRules(patience=3)
    assert protocol_decision([0.5, 0.4, 0.4], 0, rules) == CONTINUE
    assert protocol_decision([0.5, 0.4, 0.4, 0.3], 0, rules) == NEW_ROUND
    assert protocol_decision([0.5, 0.4, 0.4, 0.3], 1, rules) == CLOSE_IMAGE
