"""The project table at any window width: when the columns do not fit, the least needed ones (Folder, then
Ports, then Health) step aside, so a row's Start and Open buttons are never behind a horizontal scrollbar; they
come back when there is room. No asyncio here."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QTableView

MIN_STRETCH = 90   # the stretching column (Health) is worth showing from this width on


class ColumnFitter(QObject):
    """Hides `optional` columns (first the first) while the table's viewport is narrower than its columns."""

    def __init__(self, table: QTableView, optional: Sequence[int], stretch: int) -> None:
        super().__init__(table)
        self.table = table
        self.optional = list(optional)
        self.stretch = stretch
        self.widths: dict[int, int] = {}   # a hidden column's width when it was hidden
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def _needed(self, hidden: set[int]) -> int:
        header = self.table.horizontalHeader()
        total = 0
        for column in range(header.count()):
            if column in hidden or (header.isSectionHidden(column) and column not in self.optional):
                continue
            if column == self.stretch:
                total += MIN_STRETCH
            elif header.isSectionHidden(column):
                total += self.widths.get(column, header.defaultSectionSize())
            else:
                total += header.sectionSize(column)
        return total

    def fit(self) -> None:
        available = self.table.viewport().width()
        hidden: set[int] = set()
        for column in self.optional:   # the fewest hidden columns that make the rest fit
            if self._needed(hidden) <= available:
                break
            hidden.add(column)
        header = self.table.horizontalHeader()
        for column in self.optional:
            if column in hidden and not header.isSectionHidden(column):
                self.widths[column] = header.sectionSize(column)
                self.table.setColumnHidden(column, True)
            elif column not in hidden and header.isSectionHidden(column):
                self.table.setColumnHidden(column, False)
                if column != self.stretch and column in self.widths:
                    self.table.setColumnWidth(column, self.widths[column])

    def hidden(self) -> list[int]:
        header = self.table.horizontalHeader()
        return [column for column in self.optional if header.isSectionHidden(column)]
