"""The project table: one row per project with its live status, phase, ports and health."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

# light imports only: the window paints from these before SQLModel and the orchestrator are loaded
from cchub_desktop.lifecycle_events import phase_text, phase_words
from cchub_desktop.store.rows import ProjectStatus

if TYPE_CHECKING:
    from cchub_desktop.lifecycle_events import OrchestratorEvent
    from cchub_desktop.store.rows import StoredProject

STATUS_COLOURS: dict[ProjectStatus, str] = {
    ProjectStatus.RUNNING: "#15803d",
    ProjectStatus.STARTING: "#b45309",
    ProjectStatus.STOPPING: "#b45309",
    ProjectStatus.ERROR: "#b91c1c",
    ProjectStatus.STOPPED: "#6b7280",
}
STATUS_LABELS: dict[ProjectStatus, str] = {
    ProjectStatus.RUNNING: "Running",
    ProjectStatus.STARTING: "Starting",
    ProjectStatus.STOPPING: "Stopping",
    ProjectStatus.ERROR: "Failed",   # the tray's word too (tray_menu.STATUS_WORDS)
    ProjectStatus.STOPPED: "Stopped",
}
ModelIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NAME = 0
    FOLDER = 1
    STATUS = 2
    PORTS = 3
    HEALTH = 4
    CONTROLS = 5  # the row's own buttons (ui/row_controls.py); no text of its own


COLUMNS = tuple(Column)  # by number, without an enum call per `data()` (Qt asks ~1,000 times for a first paint)
# the roles `data()` answers, as plain ints: Qt asks for a dozen more per cell, answered None at once
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_ACCESSIBLE = Qt.ItemDataRole.AccessibleTextRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_DECORATION = Qt.ItemDataRole.DecorationRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_USER = Qt.ItemDataRole.UserRole.value
_ANSWERED = frozenset({_DISPLAY, _ACCESSIBLE, _TOOLTIP, _DECORATION, _FOREGROUND, _USER})

HEADERS = {Column.NAME: "Name", Column.FOLDER: "Folder", Column.STATUS: "Status",
           Column.PORTS: "Ports", Column.HEALTH: "Health", Column.CONTROLS: ""}


@dataclass(frozen=True)
class ProjectRow:
    project: StoredProject  # as the store reads it (store/rows.py), before and after the orchestrator is attached
    status: ProjectStatus
    phase: str | None = None
    message: str | None = None
    health: str | None = None

    @property
    def project_id(self) -> int:
        assert self.project.id is not None
        return self.project.id

    def status_text(self) -> str:
        """The Status cell: the state, and while starting the phase in a word or two (never cut at the
        column's width); status_full_text has the rest."""
        label = STATUS_LABELS[self.status]
        if self.status == ProjectStatus.STARTING and self.phase:
            return f"{label}: {phase_words(self.phase)}"
        if self.status in (ProjectStatus.STARTING, ProjectStatus.STOPPING):
            return f"{label}…"
        return label

    def status_full_text(self) -> str:
        """The state with the whole phase: "Starting: building the backend (pip: downloading torch · 1:12)"."""
        if self.status == ProjectStatus.STARTING and self.phase:
            return f"{STATUS_LABELS[self.status]}: {phase_text(self.phase)}"
        return self.status_text()

    def health_text(self) -> str:
        if self.status == ProjectStatus.RUNNING:
            return self.health or "healthy"
        if self.status == ProjectStatus.ERROR:   # the first line; the tooltip and the detail strip have all
            return (self.message or "failed").strip().split("\n", 1)[0]
        return "—"

    def ports_text(self) -> str:
        p = self.project
        text = f"web {p.frontend_port} · api {p.backend_port}"
        if p.expose_db:
            text += f" · db {p.postgres_port}, {p.redis_port}"
        return text

    def ports_tooltip(self) -> str:
        p = self.project
        scope = "on all interfaces (LAN)" if p.expose_db else "inside the stack only"
        return (f"Frontend http://localhost:{p.frontend_port}\nBackend http://localhost:{p.backend_port}\n"
                f"PostgreSQL {p.postgres_port}, Redis {p.redis_port}: {scope}")


# the longest Status cell text (status_text): the column is made at least this wide
WIDEST_STATUS = "Starting: frontend build"


def status_icon(status: ProjectStatus, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # a light ring: the grey "stopped" dot stays visible on a selected (highlighted) row
    painter.setPen(QPen(QColor("#ffffff"), 1.5))
    painter.setBrush(QColor(STATUS_COLOURS[status]))
    painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
    painter.end()
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)  # not the style's tinted version: the colour is the state
    return icon


class ProjectTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ProjectRow] = []
        self._icons: dict[ProjectStatus, QIcon] = {}

    # ----- filling ----------------------------------------------------------------------------------------

    def set_rows(self, rows: list[ProjectRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def apply_event(self, event: OrchestratorEvent) -> None:
        row = self.row_of(event.project_id)
        if row is None:
            return
        old = self._rows[row]
        self._rows[row] = replace(old, status=event.status, phase=event.phase, message=event.message,
                                  health=event.health)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))

    # ----- lookups ----------------------------------------------------------------------------------------

    def row_of(self, project_id: int) -> int | None:
        for i, r in enumerate(self._rows):
            if r.project.id == project_id:
                return i
        return None

    def row_at(self, row: int) -> ProjectRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_for(self, project_id: int) -> ProjectRow | None:
        row = self.row_of(project_id)
        return None if row is None else self._rows[row]

    def rows(self) -> list[ProjectRow]:
        return list(self._rows)

    # ----- Qt model API -----------------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        role = int(role)
        if role not in _ANSWERED or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        col = COLUMNS[index.column()]
        if role in (_DISPLAY, _ACCESSIBLE):
            return self._display(r, col)
        if role == _TOOLTIP:
            return self._tooltip(r, col)
        if role == _DECORATION and col == Column.STATUS:
            return self._icon(r.status)
        if role == _FOREGROUND and col in (Column.STATUS, Column.HEALTH):
            if col == Column.HEALTH and r.status not in (ProjectStatus.RUNNING, ProjectStatus.ERROR):
                return None
            if col == Column.HEALTH and r.status == ProjectStatus.RUNNING and r.health not in (None, "healthy"):
                return QColor(STATUS_COLOURS[ProjectStatus.STARTING])  # running, but not answering
            # a QColor, not a QBrush: the view paints it the same, and QBrush's overloads would create QGradient's
            # 169-member Preset enum in PySide6 (~0.2 MB that an idle window does without)
            return QColor(STATUS_COLOURS[r.status])
        if role == _USER:
            return r.project_id
        return None

    def _display(self, r: ProjectRow, col: Column) -> str:
        if col == Column.CONTROLS:
            return ""
        if col == Column.NAME:
            return r.project.name
        if col == Column.FOLDER:
            return r.project.path
        if col == Column.STATUS:
            return r.status_text()
        if col == Column.PORTS:
            return r.ports_text()
        return r.health_text()

    def _tooltip(self, r: ProjectRow, col: Column) -> str | None:
        if col == Column.FOLDER:
            return r.project.path
        if col == Column.PORTS:
            return r.ports_tooltip()
        if col == Column.STATUS and r.status == ProjectStatus.STARTING:
            return r.status_full_text()
        if col in (Column.STATUS, Column.HEALTH) and r.message:
            return r.message
        return None

    def _icon(self, status: ProjectStatus) -> QIcon:
        if status not in self._icons:
            self._icons[status] = status_icon(status)
        return self._icons[status]
