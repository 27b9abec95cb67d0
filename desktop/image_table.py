"""The study's image list: per image, embedding ready, timesteps, best IoU and time spent."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("Image", "Embedding", "Steps", "Best IoU", "Time")


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class ImageTable(QTableWidget):
    """Rows follow the study order; :meth:`set_row` repaints one row."""

    def __init__(self, names: list[str], parent=None) -> None:
        super().__init__(len(names), len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setWordWrap(False)
        for column in range(len(COLUMNS)):
            self.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        for row, name in enumerate(names):
            self.setItem(row, 0, QTableWidgetItem(name))
            for column in range(1, len(COLUMNS)):
                item = QTableWidgetItem("")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(row, column, item)
        self.resizeColumnsToContents()

    def set_row(self, row: int, embedding: str, timesteps: int, best_iou: float | None, seconds: float,
                problem: str = "") -> None:
        """Repaint one row; ``problem``: why the image cannot be used (shown as the row's tooltip)."""
        for column in range(len(COLUMNS)):
            self.item(row, column).setToolTip(problem)
        self.item(row, 1).setText(embedding)
        self.item(row, 2).setText(str(timesteps) if timesteps else "")
        self.item(row, 3).setText("" if best_iou is None else f"{best_iou:.3f}")
        self.item(row, 4).setText(format_seconds(seconds) if seconds >= 0.5 else "")

    def row_texts(self, row: int) -> list[str]:
        return [self.item(row, column).text() for column in range(len(COLUMNS))]
