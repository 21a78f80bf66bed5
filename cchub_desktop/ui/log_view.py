"""The selected project's log: bounded, appended in batches on a timer, filterable per service, searchable
(Ctrl+F), with wrap, timestamps, follow/pause, a separator per start, the history from the project's log
file, copy and Save as…"""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cchub_desktop.log_limits import cut_line
from cchub_desktop.ui.log_search import FindBar

if TYPE_CHECKING:  # the stack package is imported after the first paint, with the orchestrator
    from cchub_desktop.stack import LogLine, StackLog

ALL_SERVICES = "All services"
# the engine's plain progress prefix on a service's output: "12  : [3.4s] | " (span, elapsed time)
OUTPUT_PREFIX = re.compile(r"^\d+\s*: (?:\[[^\]]*\] )?\| ?")
START_NOTE = "[hub] starting "  # the orchestrator's first line of every start
SEPARATOR = ""  # the service of a separator line: shown whatever the filter
MAX_BLOCKS = 5000
POLL_MS = 100


def separator_text(ts: float) -> str:
    return f"— started {time.strftime('%H:%M:%S', time.localtime(ts))} —"


class LogView(QWidget):
    """Reads new lines from a StackLog with its cursor every POLL_MS and appends them in one batch, so a
    flood of output costs one repaint per tick and the view never holds more than MAX_BLOCKS lines."""

    def __init__(self, parent: QWidget | None = None, *, max_blocks: int = MAX_BLOCKS,
                 poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._source: StackLog | None = None
        self._cursor = 0
        self._max_blocks = max_blocks
        self._kept: deque[tuple[str, str, float]] = deque(maxlen=max_blocks)  # for re-rendering
        self._services: set[str] = set()
        self._scrolling = False

        self.title = QLabel("Log")
        self.filter = QComboBox()
        self.filter.setAccessibleName("Log service filter")
        self.filter.addItem(ALL_SERVICES)
        self.filter.currentTextChanged.connect(lambda _t: self._render_all())
        self.wrap = QCheckBox("Wrap")
        self.wrap.setAccessibleName("Wrap long lines")
        self.wrap.toggled.connect(self._set_wrap)
        self.timestamps = QCheckBox("Timestamps")
        self.timestamps.setAccessibleName("Show timestamps")
        self.timestamps.toggled.connect(lambda _on: self._render_all())
        self.follow = QCheckBox("Follow")
        self.follow.setAccessibleName("Follow new lines")
        self.follow.setToolTip("Keep the newest line in view; scrolling up pauses")
        self.follow.setChecked(True)
        self.follow.toggled.connect(self._follow_toggled)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setAccessibleName("Copy the log")
        self.copy_button.setToolTip("Copy the lines shown (or the selection) to the clipboard")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.save_button = QPushButton("Save as…")
        self.save_button.setAccessibleName("Save the log as a file")
        self.save_button.clicked.connect(self.save_as)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Project log")
        self.text.setMaximumBlockCount(max_blocks)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setUndoRedoEnabled(False)
        font: QFont = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.text.setFont(font)
        self.text.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.find_bar = FindBar(self.text, self)
        self._follow_before_find: bool | None = None   # a search scrolls to its matches; closing it resumes
        self.find_bar.opened.connect(self._find_opened)
        self.find_bar.closed.connect(self._find_closed)
        self.find_bar.no_match.connect(self._resume_follow)

        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        for widget in (self.filter, self.wrap, self.timestamps, self.follow, self.copy_button, self.save_button):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.text, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    # ----- source ---------------------------------------------------------------------------------------

    @property
    def source(self) -> StackLog | None:
        """The log shown (None: none)."""
        return self._source

    def set_source(self, source: StackLog | None, title: str = "Log") -> None:
        """Show another project's log (None: empty): its history from the log file, then what the log holds
        in memory, in one batch."""
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
        if source is None:
            return
        self._cursor, held = source.lines(0)
        from cchub_desktop.ui.log_history import read_history

        history = read_history(source.log_file, self._max_blocks, before=held[0].ts if held else None)
        self._take(history + held)

    def show_service(self, service: str) -> None:
        """Filter the log to one service (offered even before it wrote a line, so the choice is kept)."""
        if service not in self._services:
            self._services.add(service)
            self.filter.addItem(service)
        self.filter.setCurrentText(service)

    def append(self, lines: list[LogLine]) -> None:
        """Show lines that reached the log file from another process (ui/store_follow.py)."""
        if lines and self._source is not None:
            self._take(lines)

    def poll(self) -> int:
        """Append the lines that arrived since the last tick; returns how many arrived."""
        if self._source is None:
            return 0
        self._cursor, new = self._source.lines(self._cursor)
        if new:
            self._take(new)
        return len(new)

    def _take(self, new: list[LogLine]) -> None:
        wanted = self.filter.currentText()
        stamps = self.timestamps.isChecked()
        shown: list[str] = []
        for line in new:
            text = cut_line(line.text)   # the view's own cap, whatever the line's source
            if line.service == "hub" and text.startswith(START_NOTE):
                self._kept.append((SEPARATOR, separator_text(line.ts), line.ts))
                shown.append(separator_text(line.ts))
            self._kept.append((line.service, text, line.ts))
            if line.service and line.service not in self._services:
                self._services.add(line.service)
                self.filter.addItem(line.service)
            if wanted == ALL_SERVICES or line.service == wanted:
                shown.append(self._format(line.service, text, line.ts, wanted, stamps))
        if shown:
            self._append(shown[-self._max_blocks:])

    # ----- rendering ------------------------------------------------------------------------------------

    def _render_all(self) -> None:
        wanted = self.filter.currentText()
        stamps = self.timestamps.isChecked()
        self.text.clear()
        lines = [self._format(s, t, ts, wanted, stamps) for s, t, ts in self._kept
                 if wanted == ALL_SERVICES or s in (wanted, SEPARATOR)]
        if lines:
            self._append(lines)

    @staticmethod
    def _format(service: str, text: str, ts: float, wanted: str, stamps: bool) -> str:
        """A service's output without the engine's span prefix, tagged with the service in the "All" view."""
        if service == SEPARATOR:
            return text
        if service not in ("engine", "hub"):
            text = OUTPUT_PREFIX.sub("", text, count=1)
        if wanted == ALL_SERVICES and service:
            text = f"{service:<8} | {text}"
        if stamps:
            text = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d} {text}"
        return text

    def _append(self, lines: list[str]) -> None:
        self.text.appendPlainText("\n".join(lines))
        if self.follow.isChecked():
            self._to_end()

    def _to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        self._scrolling = True
        try:
            bar.setValue(bar.maximum())
        finally:
            self._scrolling = False

    # ----- options --------------------------------------------------------------------------------------

    def _set_wrap(self, on: bool) -> None:
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth if on
                                  else QPlainTextEdit.LineWrapMode.NoWrap)
        if self.follow.isChecked():
            self._to_end()

    def _scrolled(self, value: int) -> None:
        """Scrolling up pauses following; scrolling back to the bottom resumes it."""
        if self._scrolling:
            return
        at_bottom = value >= self.text.verticalScrollBar().maximum() - 1
        if at_bottom != self.follow.isChecked():
            self.follow.blockSignals(True)
            self.follow.setChecked(at_bottom)
            self.follow.blockSignals(False)

    def _find_opened(self) -> None:
        if self._follow_before_find is None:
            self._follow_before_find = self.follow.isChecked()

    def _find_closed(self) -> None:
        self._resume_follow()
        self._follow_before_find = None

    def _resume_follow(self) -> None:
        """Back to following, if the log followed before the search began."""
        if self._follow_before_find:
            self.follow.setChecked(True)
            self._to_end()

    def _follow_toggled(self, on: bool) -> None:
        if on:
            self._to_end()

    # ----- out ------------------------------------------------------------------------------------------

    def copy_to_clipboard(self) -> None:
        cursor = self.text.textCursor()
        selected = cursor.selectedText().replace("\u2029", "\n") if cursor.hasSelection() else ""
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(selected or self.text.toPlainText())

    def save_as(self) -> None:
        name = re.sub(r"[^\w.-]+", "-", self.title.text().removeprefix("Log — ")).strip("-") or "log"
        path, _ = QFileDialog.getSaveFileName(self, "Save the log as", f"{name}.log", "Log files (*.log *.txt)")
        if not path:
            return
        try:
            Path(path).write_text(self.shown_text() + "\n", encoding="utf-8")
        except OSError as exc:
            QMessageBox.warning(self, "The log was not saved",
                                f"{path} could not be written: {exc.strerror or exc}. Pick another folder.")

    def show_end(self) -> None:
        """Scroll to the newest line and put the keyboard focus on the log."""
        self.poll()
        self.follow.setChecked(True)
        self._to_end()
        self.text.setFocus()

    def shown_text(self) -> str:
        return self.text.toPlainText()
