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
    """Ask the question about ``image_id`` in a dialog: True (SAM is better), False (the ground
    truth is fine) or None ("Ask later", Esc, Return or closing the dialog). The buttons have no
    shortcut letters: N and P, the next/previous keys that open this dialog, must not answer it."""
    box = QMessageBox(QMessageBox.Icon.Question, f"Done with {image_id}", QUESTION, parent=parent)
    better = box.addButton("SAM's result is better", QMessageBox.ButtonRole.YesRole)
    fine = box.addButton("Ground truth is fine", QMessageBox.ButtonRole.NoRole)
    later = box.addButton("Ask later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(later)
    box.setEscapeButton(later)
    box.exec()
    clicked = box.clickedButton()
    return True if clicked == better else False if clicked == fine else None
