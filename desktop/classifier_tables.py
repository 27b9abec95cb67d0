"""The classifier panel's two tables: the top-k predictions (class, probability) and the trust
scores (score, value, what a higher value means), each read-only and sized to its rows.

Orientation comes from core.gradients.trust_scores.SCORES: "trust" when a higher value means
trust the prediction more, "less sure" when it means less; VOICE's IoU(explanation, uncertainty)
reads "less sure" (the explanation is less trustworthy); its SNR has no such reading.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.gradients.trust_scores import SCORES

VOICE_ROWS = (("voice_iou", "VOICE IoU(E, U)", "less sure",
               "IoU of the explanation E and its VOICE uncertainty U above 0.1: higher, the explanation is less "
               "trustworthy"),
              ("voice_snr", "VOICE SNR", "—", "mean / std of the VOICE uncertainty map: higher, more dispersed "
               "uncertainty"))


def number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.3e}"


class _Table(QTableWidget):
    def __init__(self, headers: list[str]) -> None:
        super().__init__(0, len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(headers)):
            self.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def set_rows(self, rows: list[tuple[str, ...]], tips: list[str] | None = None) -> None:
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if tips is not None:
                    item.setToolTip(tips[r])
                self.setItem(r, c, item)
        height = self.horizontalHeader().height() + sum(self.rowHeight(r) for r in range(len(rows))) + 4
        self.setFixedHeight(max(height, self.horizontalHeader().height() + 8))

    def column(self, index: int) -> list[str]:
        """The texts of one column, top to bottom (for tests and copying)."""
        return [self.item(r, index).text() for r in range(self.rowCount())]


class TopKTable(_Table):
    """The most likely classes, most likely first."""

    def __init__(self) -> None:
        super().__init__(["Class", "Probability"])

    def show_top(self, top: list[tuple[int, float]], class_names: list[str]) -> None:
        self.set_rows([(class_names[i] if i < len(class_names) else str(i), f"{p:.4f}") for i, p in top])


class TrustTable(_Table):
    """Every trust score of the prediction, then VOICE's."""

    def __init__(self) -> None:
        super().__init__(["Score", "Value", "Higher means"])

    def show_scores(self, trust: dict[str, float], voice=None) -> None:
        rows, tips = [], []
        for name, info in SCORES.items():
            if name in trust:
                rows.append((info.label, number(trust[name]), "trust" if info.higher_is_trust else "less sure"))
                tips.append(f"{name}: {info.definition}" + ("" if math.isfinite(trust[name])
                                                            else " (does not apply to this model)"))
        if voice is not None:
            values = {"voice_iou": voice.iou, "voice_snr": voice.snr}
            for key, label, meaning, tip in VOICE_ROWS:
                rows.append((label, number(values[key]), meaning))
                tips.append(tip)
        self.set_rows(rows, tips)
