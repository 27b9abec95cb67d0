"""Undoable prompt edits (QUndoCommand): each holds the prompt set before and after.

The controller applies a set and logs the action: the command's own action the first time,
"redo" when redone, "undo" when undone, so the event log shows exactly what the user did.
"""

from __future__ import annotations

import traceback
from typing import Protocol

from PySide6.QtGui import QUndoCommand

from core.prompting.prompt_set import PromptSet


class EditTarget(Protocol):
    def apply_edit(self, image_id: str, prompts: PromptSet, action: str, detail: dict) -> None: ...

    def report_error(self, text: str) -> None: ...


class PromptEdit(QUndoCommand):
    """Set ``image_id``'s prompts from ``before`` to ``after`` (``action``: add, remove, move or clear)."""

    def __init__(self, target: EditTarget, image_id: str, before: PromptSet, after: PromptSet, action: str,
                 detail: dict | None = None) -> None:
        super().__init__(f"{action} point" if action != "clear" else "clear points")
        self.target, self.image_id, self.before, self.after = target, image_id, before, after
        self.action, self.detail = action, {"of": action, **(detail or {})}
        self._done_once = False

    def redo(self) -> None:
        action = "redo" if self._done_once else self.action
        detail = self.detail if self._done_once else {k: v for k, v in self.detail.items() if k != "of"}
        self._done_once = True
        self._apply(self.after, action, detail)

    def undo(self) -> None:
        self._apply(self.before, "undo", self.detail)

    def _apply(self, prompts: PromptSet, action: str, detail: dict) -> None:
        """An exception must not leave redo/undo: escaping a Qt virtual it took the whole app
        down (PySide 6.11 crashed reporting it). It is printed, the annotator told and the
        command dropped from the stack; the log keeps what was written before it."""
        try:
            self.target.apply_edit(self.image_id, prompts, action, detail)
        except Exception as error:  # noqa: BLE001 (any bug: keep the app and the session)
            traceback.print_exc()
            self.setObsolete(True)  # the stack drops it: nothing half-done to undo later
            self.target.report_error(f"The {action} of a point on {self.image_id} failed inside the app: "
                                     f"{type(error).__name__}: {error}. The session so far is kept; please report this.")
