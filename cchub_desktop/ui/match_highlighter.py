"""The log's search marks (ui/log_search.py): every match of the needle painted, block by block."""

from __future__ import annotations

from PySide6.QtGui import QColor, QSyntaxHighlighter, QTextCharFormat, QTextDocument


class MatchHighlighter(QSyntaxHighlighter):
    """Attached to the log's document only while there is something to find: Qt calls highlightBlock for
    every block added, and with no search that is a Python call per log line for nothing."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.target = document
        self.setDocument(None)   # until there is a needle
        self.needle = ""
        self.match_format = QTextCharFormat()
        self.match_format.setBackground(QColor("#fde047"))
        self.match_format.setForeground(QColor("#111827"))

    def set_needle(self, needle: str) -> None:
        if needle.casefold() == self.needle:
            return
        self.needle = needle.casefold()
        if not self.needle:
            self.rehighlight()   # clears the marks
            self.setDocument(None)
        elif self.document() is None:
            self.setDocument(self.target)   # highlights the whole document once
        else:
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if not self.needle:
            return
        hay = text.casefold()
        size = len(self.needle)
        at = hay.find(self.needle)
        while at >= 0:
            self.setFormat(at, size, self.match_format)
            at = hay.find(self.needle, at + size)
