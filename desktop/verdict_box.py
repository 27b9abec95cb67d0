"""PointPrompt's per-image question: "was the ground truth suboptimal, i.e. is SAM's result
qualitatively better?" — a combo box for the open image, and the modal question that the
PointPrompt protocol mode asks when an annotator leaves a prompted image without an answer."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMessageBox, QWidget

QUESTION = "Was the ground truth suboptimal, i.e. is SAM's result qualitatively better?"
CHOICES = (("not answered", None), ("no", False), ("yes, SAM is better", True))


class VerdictBox(QWidget):
    """"Ground truth suboptimal?" with not answered / no / yes; ``answered(value)`` on a change
    by the annotator (value None, False or True)."""

    answered = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Ground truth suboptimal?"))
        self.combo = QComboBox()
        for text, _ in CHOICES:
            self.combo.addItem(text)
        self.combo.setToolTip(QUESTION)
        self.combo.activated.connect(lambda index: self.answered.emit(CHOICES[index][1]))
        row.addWidget(self.combo)

    def show_verdict(self, value: bool | None) -> None:
        """Show the open image's answer (without emitting ``answered``)."""
        self.combo.setCurrentIndex([v for _, v in CHOICES].index(value))

    @property
    def value(self) -> bool | None:
        return CHOICES[self.combo.currentIndex()][1]


def ask_verdict(parent, image_id: str) -> bool | None:
    """Ask the question about ``image_id`` in a dialog: True (yes), False (no), None (dismissed)."""
    answer = QMessageBox.question(parent, f"Done with {image_id}", QUESTION,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    if answer == QMessageBox.StandardButton.Yes:
        return True
    if answer == QMessageBox.StandardButton.No:
        return False
    return None
