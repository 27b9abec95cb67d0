"""How many inclusion and exclusion points an automated strategy may place, per category.

The PointPrompt paper gave every automated strategy the per-category average number of human
inclusion / exclusion points at the best timestep (../shared/pointprompt-format.md). Those
budgets are the defaults here, keyed by the paper's category names; a folder name matches when
it equals one of them ignoring case, spaces, underscores and hyphens ("salt_dome" → "Salt dome").
Any other category (the demo's bar / ellipse / polygon / star, a user's own) gets
:data:`DEFAULT_BUDGET`, the median of the paper's budgets: 8 inclusion and 2 exclusion points.
"""

from __future__ import annotations

import re

# (inclusion, exclusion) points per category, as published
PAPER_BUDGETS: dict[str, tuple[int, int]] = {
    "Baseball bat": (4, 2), "Bird": (9, 1), "Bus": (7, 1), "Cat": (6, 1), "Clock": (8, 3), "Cow": (16, 4),
    "Dog": (8, 2), "Tie": (4, 2), "Stop sign": (8, 1), "Dolphin above": (7, 2), "Dolphin below": (10, 4),
    "Polyp": (14, 2), "Skin": (11, 2), "Breast": (4, 1), "Salt dome": (5, 3), "Chalk group": (8, 5),
}

# the median over the 16 published categories: inclusion 8 (of 4..16), exclusion 2 (of 1..5)
DEFAULT_BUDGET: tuple[int, int] = (8, 2)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_BY_KEY = {_key(name): budget for name, budget in PAPER_BUDGETS.items()}


def paper_category(category: str) -> str | None:
    """The paper's spelling of ``category`` ("salt_dome" → "Salt dome"), or None for another category."""
    return next((name for name in PAPER_BUDGETS if _key(name) == _key(category)), None)


def budget_for(category: str, override: tuple[int, int] | None = None) -> tuple[int, int]:
    """(n_inclusion, n_exclusion) for ``category``: ``override`` when given, else the paper's budget,
    else :data:`DEFAULT_BUDGET`. Raises ValueError for a negative count or an all-zero budget."""
    budget = override if override is not None else _BY_KEY.get(_key(category), DEFAULT_BUDGET)
    n_inclusion, n_exclusion = (int(v) for v in budget)
    if n_inclusion < 0 or n_exclusion < 0 or n_inclusion + n_exclusion == 0:
        raise ValueError(f"a point budget needs counts >= 0 and at least one point; got {tuple(budget)}")
    return n_inclusion, n_exclusion
