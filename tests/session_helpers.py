"""Shared helpers for session tests: a controllable clock and a scripted session."""

from __future__ import annotations

import numpy as np

from core.prompting.metrics import dice, iou
from core.prompting.prompt_set import PromptSet
from core.prompting.session import AnnotationSession


class FakeClock:
    """Wall-clock stand-in: starts at 1000 s and advances 1.5 s per reading."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


def candidate_masks(prompts: PromptSet, shape=(24, 32)) -> np.ndarray:
    """Three deterministic (3, H, W) bool masks that depend on the prompt set."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    masks = []
    for k in range(3):
        mask = np.zeros(shape, bool)
        for p in prompts.points:
            near = (xx - p.x) ** 2 + (yy - p.y) ** 2 <= (4 + 2 * k) ** 2
            mask = mask | near if p.label == 1 else mask & ~near
        masks.append(mask)
    return np.stack(masks)


def decode_and_record(session: AnnotationSession, image_id: str, truth: np.ndarray | None, chosen: int = 0):
    """Record a timestep for the image's current prompt set, as the app does after a decode."""
    prompts = session.record(image_id).prompts
    masks = candidate_masks(prompts, truth.shape if truth is not None else (24, 32))
    ious = [iou(m, truth) if truth is not None else None for m in masks]
    dices = [dice(m, truth) if truth is not None else None for m in masks]
    return session.record_timestep(image_id, prompts, masks, [0.9, 0.8, 0.7], ious, dices, chosen, 0.012,
                                   model="tiny_sam:abc", device="cpu")


def scripted_session(folder, truth: np.ndarray) -> AnnotationSession:
    """Two images; adds, a removal, an undo, a move, a second round. Returns the open session."""
    session = AnnotationSession.open(folder, "st1", model="tiny_sam:abc", device="cpu", clock=FakeClock())
    session.open_image("shapes/0")
    prompts = PromptSet()
    for x, y, label in ((10, 10, 1), (20, 12, 1), (5, 20, 0)):
        prompts = prompts.added(x, y, label)
        session.edit("add", prompts)
        decode_and_record(session, "shapes/0", truth)
    before = prompts
    prompts = prompts.removed(1)
    session.edit("remove", prompts, index=1)
    decode_and_record(session, "shapes/0", truth)
    session.edit("undo", before)
    decode_and_record(session, "shapes/0", truth)
    session.edit("move", before.moved(0, 12, 11), index=0)
    decode_and_record(session, "shapes/0", truth, chosen=2)
    session.new_round()
    session.edit("add", PromptSet().added(15, 15, 1))
    decode_and_record(session, "shapes/0", truth)
    session.open_image("shapes/1")
    session.edit("add", PromptSet().added(3, 3, 1))
    decode_and_record(session, "shapes/1", truth)
    return session
