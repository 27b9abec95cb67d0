"""Which classifier the classifier panel loads: the shipped demo, a TorchScript file, or a
torchvision architecture with a weights file (core.models.classifier_loading), plus an optional
class-names file. Emits ``load_requested(source, weights, class_names)``; weights and class
names are "" when not given. Nothing is loaded here.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from core.models.torchvision_classifiers import KNOWN_ARCHITECTURES

DEMO, TORCHSCRIPT = "demo", "torchscript"


def compact_combo() -> QComboBox:
    """A combo box whose long item texts do not widen it (the window's right column is narrow)."""
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    return box


class ClassifierChooser(QWidget):
    """See the module docstring; :meth:`choose` sets the widgets from a command line's choice."""

    load_requested = Signal(str, str, str)  # source ("demo", an architecture or a TorchScript path), weights, names
    invalid = Signal(str)  # what is missing before a load

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = compact_combo()
        self.kind.addItem("demo (shipped shapes classifier)", DEMO)
        self.kind.addItem("TorchScript file", TORCHSCRIPT)
        for name in KNOWN_ARCHITECTURES:
            self.kind.addItem(f"torchvision {name} + weights", name)
        self.file = QLineEdit()
        self.file.setPlaceholderText("weights (.pth, .safetensors) or TorchScript (.pt)")
        self.names = QLineEdit()
        self.names.setPlaceholderText("optional: JSON list or one name a line")
        self.load_button = QPushButton("Load")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Classifier", self._row(self.kind, self.load_button))
        form.addRow("File", self._row(self.file, self._browse("…", self.file, "Model files (*.pt *.pth *.pts "
                                                                "*.safetensors *.bin);;All files (*)")))
        form.addRow("Class names", self._row(self.names, self._browse("…", self.names, "Class names (*.json *.txt);;"
                                                                      "All files (*)")))
        self.kind.currentIndexChanged.connect(lambda _: self._enable())
        self.load_button.clicked.connect(self.request_load)
        self._enable()

    @staticmethod
    def _row(*widgets) -> QHBoxLayout:
        row = QHBoxLayout()
        for widget in widgets:
            row.addWidget(widget, 1 if isinstance(widget, (QLineEdit, QComboBox)) else 0)
        return row

    def _browse(self, text: str, field: QLineEdit, filters: str) -> QPushButton:
        button = QPushButton(text)
        button.setMaximumWidth(32)

        def choose() -> None:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", field.text(), filters)
            if path:
                field.setText(path)

        button.clicked.connect(choose)
        return button

    def _enable(self) -> None:
        demo = self.kind.currentData() == DEMO
        self.file.setEnabled(not demo)
        self.names.setEnabled(not demo)

    def choose(self, source: str, weights: str = "") -> None:
        """Show ``source`` ("demo", an architecture name or a TorchScript path) and its weights."""
        index = self.kind.findData(source)
        if index >= 0:
            self.kind.setCurrentIndex(index)
            self.file.setText(weights)
        else:
            self.kind.setCurrentIndex(self.kind.findData(TORCHSCRIPT))
            self.file.setText(source)

    def request_load(self) -> None:
        kind, path, names = self.kind.currentData(), self.file.text().strip(), self.names.text().strip()
        if kind == DEMO:
            self.load_requested.emit(DEMO, "", "")
        elif not path:
            self.invalid.emit("Choose the TorchScript file." if kind == TORCHSCRIPT
                              else f"Choose the weights file of {kind} (pretrained weights are never downloaded).")
        elif kind == TORCHSCRIPT:
            self.load_requested.emit(path, "", names)
        else:
            self.load_requested.emit(kind, path, names)
