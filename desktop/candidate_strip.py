"""SAM's candidate masks as small thumbnails; clicking one chooses it for the shown timestep."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from desktop.mask_overlay import MASK_COLOUR, rgb_to_qimage

THUMB_SIDE = 96


def thumbnail_size(shape: tuple[int, ...], side: int = THUMB_SIDE) -> tuple[int, int]:
    """(width, height) of the thumbnail of an image of ``shape`` (H, W, …): longest side ``side``."""
    scale = side / max(shape[:2])
    return max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale))


def shrink_image(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 → the thumbnail-sized image (area averaging), float32."""
    return cv2.resize(image, thumbnail_size(image.shape, side), interpolation=cv2.INTER_AREA).astype(np.float32)


def thumbnail(image: np.ndarray, mask: np.ndarray, side: int = THUMB_SIDE, small: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 image with (H, W) bool mask tinted, scaled so the longest side is ``side``.

    Image and mask are shrunk first (area averaging; the mask, as 0/255 bytes, becomes its
    coverage, sampled every few pixels on large images) and tinted at thumbnail size, so the cost
    hardly grows with the image: the three
    candidates of a 3000×2000 image would otherwise cost ~0.1 s on the UI thread. ``small``:
    ``shrink_image(image, side)`` when the caller has it (one per image, not per candidate).
    """
    small = shrink_image(image, side) if small is None else small
    size = (small.shape[1], small.shape[0])
    step = max(1, max(mask.shape) // (4 * side))  # every step-th pixel still gives ≥ 16 per thumbnail pixel
    sampled = mask[::step, ::step]
    bytes_mask = sampled.view(np.uint8) if sampled.dtype == np.bool_ else (sampled != 0).astype(np.uint8)
    coverage = cv2.resize(bytes_mask * np.uint8(255), size, interpolation=cv2.INTER_AREA)
    weight = coverage[..., None].astype(np.float32) * (0.55 / 255)
    tinted = small + weight * (np.array(MASK_COLOUR, np.float32) - small)
    return np.clip(np.rint(tinted), 0, 255).astype(np.uint8)


class CandidateStrip(QWidget):
    """Three checkable buttons; ``chosen(k)`` when the annotator clicks candidate k."""

    chosen = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons = []
        for k in range(3):
            button = QToolButton()
            button.setCheckable(True)
            button.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setText(f"#{k + 1}")
            self.group.addButton(button, k)
            row.addWidget(button)
            self.buttons.append(button)
        self.group.idClicked.connect(self.chosen)
        self._small: tuple[np.ndarray, np.ndarray] | None = None  # (image, its shrunk copy)
        self.show_candidates(None, None, [], [], None)

    def show_candidates(self, image: np.ndarray | None, masks: np.ndarray | None, captions: list[str],
                        tooltips: list[str], chosen: int | None) -> None:
        """masks (M, H, W) bool over ``image``; one caption per candidate; ``chosen`` is checked."""
        small = None
        if image is None:
            self._small = None  # do not keep a closed study's image alive
        else:  # shrunk once per image: every timestep shows the same one
            if self._small is None or self._small[0] is not image:
                self._small = (image, shrink_image(image))
            small = self._small[1]
        for k, button in enumerate(self.buttons):
            present = image is not None and masks is not None and k < len(masks)
            button.setEnabled(present)
            icon = QIcon(QPixmap.fromImage(rgb_to_qimage(thumbnail(image, masks[k], small=small)))) if present else QIcon()
            button.setIcon(icon)
            button.setText(captions[k] if present else f"#{k + 1}")
            button.setToolTip(tooltips[k] if present else "")
        if chosen is not None and masks is not None and len(masks):
            self.buttons[chosen].setChecked(True)
        else:
            self.group.setExclusive(False)
            for button in self.buttons:
                button.setChecked(False)
            self.group.setExclusive(True)

