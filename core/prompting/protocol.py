"""The PointPrompt collection protocol (the lab's tool, olivesgatech/SAM-ECE-4803-8803), as rules.

- SAM runs, and a timestep is recorded, only once the prompt set holds at least one inclusion
  and one exclusion point (every published timestep has both kinds).
- Patience: a round ends after ``patience`` consecutive timesteps that did not beat the round's
  best IoU (the instructions say 5; the lab's code counted 10). The first round's end clears
  the points and starts round 2; the end of the last round closes the image (its best stands).

The app's free mode runs SAM after every change and leaves rounds to the annotator; the
session log records which mode was used.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.prompting.prompt_set import PromptSet

CONTINUE, NEW_ROUND, CLOSE_IMAGE = "continue", "new_round", "close_image"


@dataclass(frozen=True)
class ProtocolRules:
    patience: int = 5
    rounds: int = 2


def ready_to_decode(prompts: PromptSet) -> bool:
    """True once the set has at least one inclusion and one exclusion point."""
    included, excluded = prompts.counts
    return included > 0 and excluded > 0


def changes_without_improvement(ious: list[float | None]) -> int:
    """Consecutive timesteps at the end of ``ious`` (one round, in order) that did not beat the best before them."""
    best, stale = None, 0
    for value in ious:
        if value is not None and (best is None or value > best):
            best, stale = value, 0
        else:
            stale += 1
    return stale


def protocol_decision(round_ious: list[float | None], current_round: int, rules: ProtocolRules) -> str:
    """What the protocol does after a timestep: CONTINUE, NEW_ROUND or CLOSE_IMAGE.

    round_ious: the IoUs of the current round's timesteps, in order; current_round counts from 0.
    """
    if changes_without_improvement(round_ious) < rules.patience:
        return CONTINUE
    return NEW_ROUND if current_round + 1 < rules.rounds else CLOSE_IMAGE
