"""The selected project's log: bounded, appended in batches on a timer, filterable per service, copyable."""

from __future__ import annotations

import re
from collections import deque

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QTextCursor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from cchub_desktop.stack import StackLog

ALL_SERVICES = "All services"
# the engine's plain progress prefix on a service's output: "12  : [3.4s] | " (span, elapsed time)
OUTPUT_PREFIX = re.compile(r"^\d+\s*: (?:\[[^\]]*\] )?\| ?")
MAX_BLOCKS = 5000
POLL_MS = 100


class LogView(QWidget):
    """Reads new lines from a StackLog with its cursor every POLL_MS and appends them in one batch, so a
    flood of output costs one repaint per tick and the view never holds more than MAX_BLOCKS lines."""

    def __init__(self, parent: QWidget | None = None, *, max_blocks: int = MAX_BLOCKS,
                 poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._source: StackLog | None = None
        self._cursor = 0
        self._max_blocks = max_blocks
        self._kept: deque[tuple[str, str]] = deque(maxlen=max_blocks)  # (service, text) for re-filtering
        self._services: set[str] = set()

        self.title = QLabel("Log")
        self.filter = QComboBox()
        self.filter.setAccessibleName("Log service filter")
        self.filter.addItem(ALL_SERVICES)
        self.filter.currentTextChanged.connect(lambda _t: self._render_all())
        self.copy_button = QPushButton("Copy")
        self.copy_button.setAccessibleName("Copy the log")
        self.copy_button.setToolTip("Copy the lines shown (or the selection) to the clipboard")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Project log")
        self.text.setMaximumBlockCount(max_blocks)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setUndoRedoEnabled(False)
        font: QFont = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.text.setFont(font)

        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.filter)
        bar.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def set_source(self, source: StackLog | None, title: str = "Log") -> None:
        """Show another project's log (None: empty). Reads what the log already holds in one batch."""
        self._source = source
        self._cursor = 0
        self._kept.clear()
        self._services.clear()
        self.filter.blockSignals(True)
        self.filter.clear()
        self.filter.addItem(ALL_SERVICES)
        self.filter.blockSignals(False)
        self.title.setText(title)
        self.text.clear()
        self.poll()

    def poll(self) -> int:
        """Append the lines that arrived since the last tick; returns how many arrived."""
        if self._source is None:
            return 0
        self._cursor, new = self._source.lines(self._cursor)
        if not new:
            return 0
        wanted = self.filter.currentText()
        shown: list[str] = []
        for line in new:
            self._kept.append((line.service, line.text))
            if line.service and line.service not in self._services:
                self._services.add(line.service)
                self.filter.addItem(line.service)
            if wanted == ALL_SERVICES or line.service == wanted:
                shown.append(self._format(line.service, line.text, wanted))
        if shown:
            self._append(shown[-self._max_blocks:])
        return len(new)

    def _render_all(self) -> None:
        wanted = self.filter.currentText()
        self.text.clear()
        lines = [self._format(s, t, wanted) for s, t in self._kept if wanted == ALL_SERVICES or s == wanted]
        if lines:
            self._append(lines)

    @staticmethod
    def _format(service: str, text: str, wanted: str) -> str:
        """A service's output without the engine's span prefix, tagged with the service in the "All" view."""
        if service not in ("engine", "hub"):
            text = OUTPUT_PREFIX.sub("", text, count=1)
        if wanted != ALL_SERVICES or not service:
            return text
        return f"{service:<8} | {text}"

    def _append(self, lines: list[str]) -> None:
        bar = self.text.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        self.text.appendPlainText("\n".join(lines))
        if at_bottom:
            self.text.moveCursor(QTextCursor.MoveOperation.End)
            bar.setValue(bar.maximum())

    def copy_to_clipboard(self) -> None:
        cursor = self.text.textCursor()
        selected = cursor.selectedText().replace("\u2029", "\n") if cursor.hasSelection() else ""
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(selected or self.text.toPlainText())

    def show_end(self) -> None:
        """Scroll to the newest line and put the keyboard focus on the log."""
        self.poll()
        self.text.moveCursor(QTextCursor.MoveOperation.End)
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())
        self.text.setFocus()

    def shown_text(self) -> str:
        return self.text.toPlainText()
