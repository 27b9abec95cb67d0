"""Guard against Qt bindings that corrupt Python reference counts.

PySide6 6.12.0 on CPython 3.11 dropped a reference to None on every void call (setText,
update, processEvents, ...): a long annotation session aborted with "deallocating None".
pyproject.toml excludes it; this test fails if such a build comes back.
"""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel


class Emitter(QObject):
    fired = Signal(object)


def test_void_calls_and_signals_keep_none_and_bools_alive(qapp: QApplication):
    label = QLabel("x")
    emitter = Emitter()
    emitter.fired.connect(lambda value: None)
    counts = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):
        label.setText("y")
        label.update()
        qapp.processEvents()
        emitter.fired.emit(None)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert all(abs(a - b) < 50 for a, b in zip(after, counts)), (counts, after)
