"""SAM's candidate masks as small thumbnails; clicking one chooses it for the shown timestep."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from desktop.image_canvas import MASK_COLOUR, rgb_to_qimage

THUMB_SIDE = 96


def thumbnail(image: np.ndarray, mask: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 image with (H, W) bool mask tinted, scaled so the longest side is ``side``.

    Image and mask are shrunk first (area averaging; the mask becomes its coverage in [0, 1])
    and tinted at thumbnail size, so the cost does not grow with the image (a 3000×2000 image
    would otherwise cost ~0.1 s per candidate on the UI thread).
    """
    scale = side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    coverage = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)[..., None]
    tinted = small + 0.55 * coverage * (np.array(MASK_COLOUR, np.float32) - small)
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
        self.show_candidates(None, None, [], [], None)

    def show_candidates(self, image: np.ndarray | None, masks: np.ndarray | None, captions: list[str],
                        tooltips: list[str], chosen: int | None) -> None:
        """masks (M, H, W) bool over ``image``; one caption per candidate; ``chosen`` is checked."""
        for k, button in enumerate(self.buttons):
            present = image is not None and masks is not None and k < len(masks)
            button.setEnabled(present)
            button.setIcon(QIcon(QPixmap.fromImage(rgb_to_qimage(thumbnail(image, masks[k])))) if present else QIcon())
            button.setText(captions[k] if present else f"#{k + 1}")
            button.setToolTip(tooltips[k] if present else "")
        if chosen is not None and masks is not None and len(masks):
            self.buttons[chosen].setChecked(True)
        else:
            self.group.setExclusive(False)
            for button in self.buttons:
                button.setChecked(False)
            self.group.setExclusive(True)

