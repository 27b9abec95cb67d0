"""The overlay panel: which gradient map the canvas shows (colormap with its colour bar, opacity),
the shown timestep's scalars, and the suggested next click (Suggest, continuously, from which
uncertainty map). Plus the View-menu entries: Gradient maps (on/off), Suggest next click (S),
Accept suggestion (A).

It owns no state: it calls the controller's :class:`desktop.map_controller.MapController`
and repaints, with the canvas's map overlay and suggestion marker, from its signals.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.gradients.sam_maps import MAPS, UNCERTAINTY_MAPS
from desktop.map_overlay import COLORMAPS, MapStyle, colour_bar

# the scalars listed in the panel, in this order, with a short label (the tooltip lists them all,
# purview per layer too, by the names the log and the export use)
MAIN_SCALARS = {"predicted_iou": "SAM IoU", "stability_score": "stability", "candidate_disagreement": "cand. disagr.",
                "intervention_total": "interv. total", "intervention_aleatoric": "interv. aleat.",
                "intervention_epistemic": "interv. epist.", "intervention_disagreement": "interv. disagr.",
                "logit_entropy": "logit entropy", "voice_iou": "VOICE IoU", "voice_snr": "VOICE SNR",
                "gradient_energy": "grad. energy", "purview_total": "Purview total"}
BAR_SIZE = (120, 12)  # colour bar, screen px
SCALAR_COLUMNS = 2  # (name, value) pairs per row of the scalar table


def _number(value: float) -> str:
    return f"{value:.3f}" if 1e-3 <= abs(value) < 1e3 or value == 0 else f"{value:.3g}"


class OverlayPanel(QWidget):
    """See the module docstring; :meth:`attach` it to each new controller."""

    def __init__(self, style: MapStyle, source: str, continuous: bool, parent=None) -> None:
        super().__init__(parent)
        self.maps = None  # the attached controller's MapController
        self.canvas = None
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.map_box = QComboBox()
        for name, description in MAPS.items():
            self.map_box.addItem(name, name)
            self.map_box.setItemData(self.map_box.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(list(COLORMAPS))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 255)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #555")
        self.bar = QLabel()
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.colormap_box, 1)
        bar_row.addWidget(QLabel("0"))
        bar_row.addWidget(self.bar)
        bar_row.addWidget(QLabel("1"))
        self.scalars = QLabel("")
        self.scalars.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.suggest_button = QPushButton("Suggest (S)")
        self.accept_button = QPushButton("Accept (A)")
        self.continuous_box = QCheckBox("Suggest continuously")
        self.source_box = QComboBox()
        self.source_box.addItems(list(UNCERTAINTY_MAPS))
        self.suggestion = QLabel("")
        self.suggestion.setWordWrap(True)

        form, style_form = QFormLayout(), QFormLayout()
        form.addRow("Map", self.map_box)
        style_form.addRow("Colormap", bar_row)
        style_form.addRow("Opacity", self.opacity)
        buttons = QHBoxLayout()
        for widget in (self.suggest_button, self.accept_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addWidget(self.status)
        column.addLayout(form)
        column.addWidget(self.description)
        column.addLayout(style_form)
        column.addWidget(self.scalars)
        column.addLayout(buttons)
        suggest_form = QFormLayout()
        suggest_form.addRow("Suggest from", self.source_box)
        column.addLayout(suggest_form)
        column.addWidget(self.continuous_box)
        column.addWidget(self.suggestion)
        column.addStretch(1)
        scroll = QScrollArea()  # a short window scrolls the panel rather than squeezing it
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.show_style(style)
        self.source_box.setCurrentText(source)
        self.continuous_box.setChecked(continuous)
        self.map_box.currentIndexChanged.connect(lambda _: self._style_changed())
        self.colormap_box.currentIndexChanged.connect(lambda _: self._style_changed())
        self.opacity.valueChanged.connect(lambda _: self._style_changed())
        self.suggest_button.clicked.connect(lambda: self.maps.suggest())
        self.accept_button.clicked.connect(lambda: self.maps.accept())
        self.continuous_box.toggled.connect(lambda on: self.maps.set_continuous(on))
        self.source_box.currentTextChanged.connect(lambda name: self.maps.set_source(name))

    # --- wiring --------------------------------------------------------------------------
    def attach(self, controller, canvas) -> None:
        """Follow ``controller.maps`` (a new controller per study or session) and paint on ``canvas``."""
        self.maps, self.canvas = controller.maps, canvas
        self.maps.changed.connect(self.show_state)
        self.maps.overlay_changed.connect(lambda: self.canvas.set_map_overlay(self.maps.visible_overlay))
        self.maps.suggestion_changed.connect(lambda: self.canvas.set_suggestion(self.maps.visible_suggestion))
        self.show_state()

    @property
    def style(self) -> MapStyle:
        return MapStyle(self.map_box.currentData(), self.colormap_box.currentText(), self.opacity.value())

    def show_style(self, style: MapStyle) -> None:
        """Set the widgets to ``style`` (no signal to the controller)."""
        for widget in (self.map_box, self.colormap_box, self.opacity):
            widget.blockSignals(True)
        self.map_box.setCurrentIndex(max(0, self.map_box.findData(style.name)))
        self.colormap_box.setCurrentText(style.colormap)
        self.opacity.setValue(style.alpha)
        for widget in (self.map_box, self.colormap_box, self.opacity):
            widget.blockSignals(False)
        self._show_bar(style)

    def _style_changed(self) -> None:
        style = self.style
        self._show_bar(style)
        if self.maps is not None:
            self.maps.set_style(style)

    def _show_bar(self, style: MapStyle) -> None:
        self.bar.setPixmap(QPixmap.fromImage(colour_bar(style.colormap, *BAR_SIZE)))
        self.description.setText(MAPS.get(style.name, ""))

    # --- repainting ----------------------------------------------------------------------
    def show_state(self) -> None:
        maps = self.maps
        if maps is None:
            return
        on = maps.enabled
        for widget in (self.map_box, self.colormap_box, self.opacity, self.suggest_button, self.accept_button,
                       self.continuous_box, self.source_box):
            widget.setEnabled(on)
        status = maps.status
        name = maps.style.name
        if on and maps.key is not None and maps.scalars is not None and name not in maps.available:
            status += f" This timestep has no {name} map (e.g. no previous mask in its round, or the chosen " \
                      "candidate contrasted with itself)."
        self.status.setText(status)
        self._show_scalars(maps.scalars if on else None)
        shown = maps.visible_suggestion
        if shown is None:
            self.suggestion.setText("Suggested next click: none on show." if on else "")
        else:
            kind = "inclusion" if shown.label == 1 else "exclusion"
            colour = "#1a9a2a" if shown.label == 1 else "#c0201a"
            self.suggestion.setText(f"Suggested next click: <b style='color:{colour}'>{kind}</b> at "
                                    f"({shown.x}, {shown.y}), from {shown.source}. A accepts it.")
        self.accept_button.setEnabled(on and shown is not None)

    def _show_scalars(self, scalars: dict[str, float] | None) -> None:
        if not scalars:
            self.scalars.setText("")
            self.scalars.setToolTip("")
            return
        cells = [f"<td>{label}</td><td align='right'>&nbsp;{_number(scalars[name])}&nbsp;&nbsp;</td>"
                 for name, label in MAIN_SCALARS.items() if name in scalars]
        rows = "".join("<tr>" + "".join(cells[i:i + SCALAR_COLUMNS]) + "</tr>"
                       for i in range(0, len(cells), SCALAR_COLUMNS))
        self.scalars.setText(f"<table cellspacing='0' style='font-size: small'>{rows}</table>")
        self.scalars.setToolTip("\n".join(f"{name}: {value:.6g}" for name, value in sorted(scalars.items())))
        self.scalars.setWhatsThis("Scalars of the shown timestep's maps; the event log and the export name them "
                                  "as in this tooltip.")


def add_map_actions(window, menu) -> None:
    """The View-menu entries of the maps (checkable Gradient maps; S suggests; A accepts), made
    with ``window._action``; they act on the window's current controller."""
    menu.addSeparator()
    window.maps_action = window._action(menu, "&Gradient maps", lambda on: window.controller.maps.set_enabled(on),
                                        None, True)
    window.maps_action.setChecked(window.options.maps)
    window.suggest_action = window._action(menu, "&Suggest next click", lambda: window.controller.maps.suggest(), "S")
    window.accept_action = window._action(menu, "&Accept suggestion", lambda: window.controller.maps.accept(), "A")
