"""The filter over the project table: a text box (name or folder) and a status choice."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import ProjectTableModel

ALL = "All states"
STATUS_CHOICES: dict[str, tuple[ProjectStatus, ...]] = {
    ALL: tuple(ProjectStatus),
    "Running": (ProjectStatus.RUNNING,),
    "Starting or stopping": (ProjectStatus.STARTING, ProjectStatus.STOPPING),
    "Stopped": (ProjectStatus.STOPPED,),
    "Failed": (ProjectStatus.ERROR,),
}


class ProjectFilterProxy(QSortFilterProxyModel):
    def __init__(self, model: ProjectTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.projects = model
        self.setSourceModel(model)
        self._text = ""
        self._statuses: tuple[ProjectStatus, ...] = STATUS_CHOICES[ALL]
        # a state change re-checks the row against the status filter
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_statuses(self, statuses: tuple[ProjectStatus, ...]) -> None:
        self.beginFilterChange()
        self._statuses = statuses
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def is_filtering(self) -> bool:
        return bool(self._text) or self._statuses != STATUS_CHOICES[ALL]

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        row = self.projects.row_at(source_row)
        if row is None:
            return False
        if row.status not in self._statuses:
            return False
        if not self._text:
            return True
        return self._text in row.project.name.casefold() or self._text in row.project.path.casefold()


class FilterBar(QWidget):
    """"Filter by name or folder" and a status choice, driving a ProjectFilterProxy."""

    def __init__(self, proxy: ProjectFilterProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.text = QLineEdit()
        self.text.setObjectName("project_filter")
        self.text.setPlaceholderText("Filter by name or folder")
        self.text.setAccessibleName("Filter projects by name or folder")
        self.text.setClearButtonEnabled(True)
        self.text.textChanged.connect(proxy.set_text)
        self.status = QComboBox()
        self.status.setObjectName("status_filter")
        self.status.setAccessibleName("Show projects in state")
        self.status.addItems(list(STATUS_CHOICES))
        self.status.currentTextChanged.connect(lambda t: proxy.set_statuses(STATUS_CHOICES[t]))
        # a filter that matches nothing says so beside the box, instead of an empty table with no word
        self.no_match = QLabel()
        self.no_match.setObjectName("filter_no_match")
        self.no_match.setStyleSheet("color: #92400e;")
        self.no_match.linkActivated.connect(lambda _l: self.clear())
        self.no_match.hide()
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(lambda *_a: self._update_hint())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.no_match)
        layout.addWidget(self.status)

    def clear(self) -> None:
        """Show every project again."""
        self.text.clear()
        self.status.setCurrentText(ALL)

    def _update_hint(self) -> None:
        total = self.proxy.projects.rowCount()
        empty = total > 0 and self.proxy.rowCount() == 0 and self.proxy.is_filtering()
        if empty:
            self.no_match.setText(f"None of {total} projects match. <a href='clear'>Show all</a>")
        self.no_match.setVisible(empty)
