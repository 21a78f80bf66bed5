"""The services of the selected project: each one's state, where it listens, its image and its last log line;
a double-click shows that service's log, and the database's row copies its connection string.

The list comes from the same recipe the stack runs (stack/plan.py), so it names exactly the services a start
starts. A service's state is read from the project's phase: the services start in the recipe's order, so
those before the current phase are up, the one of the phase is starting, the rest wait."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from cchub_desktop.stack.phases import StackPhase
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import ProjectRow

if TYPE_CHECKING:   # the store and the recipe load only once a project is shown (paint first)
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack.plan import ServicePlan, StackPlan
    from cchub_desktop.store.rows import StoredProject

COLUMNS = ("Service", "State", "Listens on", "Image", "Last log line")
PHASE_ORDER = [phase.value for phase in StackPhase]
LAST_LINE_CHARS = 160
NOT_EXPOSED = ("The database is not reachable from this computer: turn on 'Expose the database ports' "
               "(Edit project); it applies at the next start.")


def service_state(row: ProjectRow, service: str) -> str:
    """What one service is doing, read from the project's status and phase."""
    status = row.status
    if status == ProjectStatus.RUNNING:
        return "running"
    if status == ProjectStatus.STOPPING:
        return "stopping"
    if status != ProjectStatus.STARTING:
        return "stopped"
    phase = (row.phase or "").split("|", 1)[0]
    if service not in PHASE_ORDER or phase not in PHASE_ORDER:
        return "waiting"
    here, mine = PHASE_ORDER.index(phase), PHASE_ORDER.index(service)
    if mine < here:
        return "started"
    return "starting" if mine == here else "waiting"


def listens_on(service: ServicePlan) -> str:
    """Host tunnels first (what a browser or client on this computer uses), then the ports inside the stack."""
    outside = [f"localhost:{t.host_port} → {t.container_port}" for t in service.tunnels]
    inside = [f"{service.name}:{port} in the stack" for port in service.exposed_ports
              if port not in {t.container_port for t in service.tunnels}]
    return ", ".join(outside + inside) or "—"


def connection_string(project: StoredProject, secrets_dir: Path) -> str | None:
    """postgres://… for the exposed database, or None when it is not exposed or was never started (no
    password yet). Reads the project's secrets file; never creates one."""
    from cchub_desktop.stack.recipe import host_database_url
    from cchub_desktop.stack.secrets_store import load_or_create, secrets_file

    if not project.expose_db or not secrets_file(secrets_dir, project.data_key).exists():
        return None
    return host_database_url(project.postgres_port, load_or_create(secrets_dir, project.data_key).db_password)


class ServicesPanel(QWidget):
    """`show_service` is emitted with a service's name when the user asks for its log."""

    show_service = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("services_panel")
        self._plan_key: tuple[object, ...] | None = None
        self._plan: StackPlan | None = None
        self._project: StoredProject | None = None
        self._secrets_dir: Path | None = None
        self.title = QLabel("<b>Services</b>")
        self.tree = QTreeWidget()
        self.tree.setObjectName("services_tree")
        self.tree.setAccessibleName("Services of the selected project")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        for column, width in enumerate((110, 90, 210, 170)):
            self.tree.setColumnWidth(column, width)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.show_service.emit(item.text(0)))
        self.tree.setToolTip("Double-click a service to show its log")
        self.copy_db = QPushButton("Copy connection string")
        self.copy_db.setObjectName("copy_db_url")
        self.copy_db.clicked.connect(self.copy_connection_string)
        self.show_log = QPushButton("Show its log")
        self.show_log.setObjectName("show_service_log")
        self.show_log.clicked.connect(self._show_current)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.show_log)
        head.addWidget(self.copy_db)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(head)
        layout.addWidget(self.tree)

    def _items(self) -> list[QTreeWidgetItem]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item for item in items if item is not None]

    def services(self) -> list[str]:
        return [item.text(0) for item in self._items()]

    def state_of(self, service: str) -> str:
        for item in self._items():
            if item.text(0) == service:
                return item.text(1)
        raise KeyError(service)

    def show_row(self, row: ProjectRow | None, settings: AppSettings | None, secrets_dir: Path | None,
                 last_lines: Mapping[str, str]) -> None:
        """Show the services of `row`'s project (hidden without a stored project or settings)."""
        if row is None or settings is None:   # settings: once the orchestrator is attached
            self._project = None
            self.tree.clear()
            self.title.setText("<b>Services</b> — select a project" if row is None else
                               "<b>Services</b> — loading the projects…")
            self.copy_db.setEnabled(False)
            return
        project = row.project
        self._project, self._secrets_dir = project, secrets_dir
        plan = self._plan_for(project, settings)
        self.title.setText(f"<b>Services</b> — {len(plan.services)} in {project.name}'s stack")
        selected = self.tree.currentItem()
        current = selected.text(0) if selected is not None else None
        self.tree.clear()
        for service in plan.services:
            line = last_lines.get(service.name, "")
            item = QTreeWidgetItem([service.name, service_state(row, service.name), listens_on(service),
                                    service.image, line[:LAST_LINE_CHARS]])
            item.setToolTip(4, line)
            self.tree.addTopLevelItem(item)
            if service.name == current:
                self.tree.setCurrentItem(item)
        exposed = bool(project.expose_db)
        self.copy_db.setEnabled(exposed)
        self.copy_db.setToolTip("Copies postgresql://… for a database client" if exposed else NOT_EXPOSED)

    def _plan_for(self, project: StoredProject, settings: AppSettings) -> StackPlan:
        key = (project.id, project.updated_at, project.expose_db, project.frontend_port, project.backend_port,
               project.postgres_port, project.redis_port, id(settings))
        if self._plan is None or key != self._plan_key:
            from cchub_desktop.stack.config import CommandCenterConfig
            from cchub_desktop.stack.plan import build_plan

            self._plan, self._plan_key = build_plan(CommandCenterConfig.for_plan(project, settings)), key
        return self._plan

    def _show_current(self) -> None:
        item = self.tree.currentItem() or self.tree.topLevelItem(0)
        if item is not None:
            self.show_service.emit(item.text(0))

    def copy_connection_string(self) -> str | None:
        """Put the exposed database's connection string on the clipboard; returns it (None: nothing copied,
        the reason is in the panel's title)."""
        if self._project is None or self._secrets_dir is None:
            return None
        from cchub_desktop.stack.errors import StackError

        try:
            url = connection_string(self._project, self._secrets_dir)
        except StackError as exc:   # a damaged secrets file: its message says what to do
            self.title.setText(f"<b>Services</b> — {exc.user_message}")
            return None
        if url is None:
            self.title.setText("<b>Services</b> — " + (NOT_EXPOSED if not self._project.expose_db else
                                                       "no database yet: its first start makes it"))
            return None
        QGuiApplication.clipboard().setText(url)
        self.title.setText("<b>Services</b> — connection string copied (it holds the password)")
        return url
