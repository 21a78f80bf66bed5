"""Ctrl+F in the log pane: a find bar with next/previous and every match highlighted.

Matches are painted by a QSyntaxHighlighter (ui/match_highlighter.py), which Qt runs only on blocks that are
added or changed, so a flood of lines costs one substring search per new line, not a re-scan of the whole log.
It is made at the first search: importing QTextCharFormat creates PySide6's QTextFormat enums (~0.15 MB), which
a window whose log is never searched does without."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QToolButton, QWidget

if TYPE_CHECKING:
    from cchub_desktop.ui.match_highlighter import MatchHighlighter


class FindBar(QWidget):
    """Hidden until Ctrl+F; Enter / F3 find the next match, Shift+Enter / Shift+F3 the previous one."""

    closed = Signal()
    opened = Signal()
    no_match = Signal()   # the view may go back to where it was before the search

    def __init__(self, text: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self._highlighter: MatchHighlighter | None = None   # made at the first search
        self.edit = QLineEdit()
        self.edit.setObjectName("log_find")
        self.edit.setPlaceholderText("Find in log")
        self.edit.setAccessibleName("Find in log")
        self.edit.textChanged.connect(self._changed)
        self.edit.returnPressed.connect(self.find_next)
        self.prev_button = QToolButton()
        self.prev_button.setText("↑")
        self.prev_button.setAccessibleName("Previous match")
        self.prev_button.setToolTip("Previous match (Shift+F3)")
        self.prev_button.clicked.connect(self.find_previous)
        self.next_button = QToolButton()
        self.next_button.setText("↓")
        self.next_button.setAccessibleName("Next match")
        self.next_button.setToolTip("Next match (F3, Enter)")
        self.next_button.clicked.connect(self.find_next)
        self.count = QLabel()
        self.count.setObjectName("log_find_count")
        close = QToolButton()
        close.setText("✕")
        close.setAccessibleName("Close find")
        close.clicked.connect(self.close_bar)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.prev_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.count)
        layout.addWidget(close)
        host = parent if parent is not None else text
        # Ctrl+F anywhere in the window searches the log (the one find of the window); F3 inside the pane
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), host)
        find.setContext(Qt.ShortcutContext.WindowShortcut)
        find.activated.connect(self.open_bar)
        for keys, slot in (("F3", self.find_next), ("Shift+F3", self.find_previous)):
            shortcut = QShortcut(QKeySequence(keys), host)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        QShortcut(QKeySequence("Shift+Return"), self.edit, self.find_previous,
                  Qt.ShortcutContext.WidgetShortcut)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self.edit, self.close_bar, Qt.ShortcutContext.WidgetShortcut)
        self.hide()

    def _highlight(self, needle: str) -> None:
        if self._highlighter is None:
            if not needle:
                return
            from cchub_desktop.ui.match_highlighter import MatchHighlighter

            self._highlighter = MatchHighlighter(self.text.document())
        self._highlighter.set_needle(needle)

    def needle(self) -> str:
        return self.edit.text() if self.isVisible() else ""

    def open_bar(self) -> None:
        self.opened.emit()
        self.show()
        selected = self.text.textCursor().selectedText()
        if selected and "\u2029" not in selected:
            self.edit.setText(selected)
        self.edit.setFocus()
        self.edit.selectAll()
        self._highlight(self.edit.text())

    def close_bar(self) -> None:
        self.hide()
        self._highlight("")
        self.text.setFocus()
        self.closed.emit()

    def _changed(self, needle: str) -> None:
        self._highlight(needle)
        if needle:
            cursor = self.text.textCursor()
            cursor.setPosition(cursor.selectionStart())
            self.text.setTextCursor(cursor)
            self.find_next()
        else:
            self.count.setText("")

    def find_next(self) -> bool:
        return self._find(QTextDocument.FindFlag(0))

    def find_previous(self) -> bool:
        return self._find(QTextDocument.FindFlag.FindBackward)

    def _find(self, flags: QTextDocument.FindFlag) -> bool:
        """Select the next (or previous) match, wrapping around, and say which of how many it is. With no
        match the view stays where it was (the log keeps following if it did)."""
        needle = self.edit.text()
        if not needle:
            return False
        haystack = self.text.toPlainText().lower()
        total = haystack.count(needle.lower())
        if total == 0:
            self.count.setText("no match")
            self.no_match.emit()
            return False
        if not self.text.find(needle, flags):   # wrap around
            cursor = self.text.textCursor()
            backward = bool(flags & QTextDocument.FindFlag.FindBackward)
            cursor.movePosition(cursor.MoveOperation.End if backward else cursor.MoveOperation.Start)
            self.text.setTextCursor(cursor)
            self.text.find(needle, flags)
        at = haystack[:self.text.textCursor().selectionStart()].count(needle.lower()) + 1
        self.count.setText(f"{min(at, total)} of {total}")
        return True
