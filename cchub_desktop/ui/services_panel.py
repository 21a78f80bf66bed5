"""The services of the selected project: each one's state, where it listens, its image and its last log line;
a double-click shows that service's log, and the database's row copies its connection string.

The list comes from the same recipe the stack runs (stack/plan.py), so it names exactly the services a start
starts. A service's state is read from the project's phase: the services start in the recipe's order, so
those before the current phase are up, the one of the phase is starting, the rest wait."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from cchub_desktop.stack.phases import StackPhase
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import ProjectRow

if TYPE_CHECKING:   # the store and the recipe load only once a project is shown (paint first)
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack.plan import ServicePlan, StackPlan
    from cchub_desktop.store.rows import StoredProject

COLUMNS = ("Service", "State", "Health", "Up", "Listens on", "Image", "Last log line")
SERVICE, STATE, HEALTH, UP, LISTENS, IMAGE, LAST_LINE = range(len(COLUMNS))
UP_REFRESH_MS = 30_000
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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)   # the store keeps UTC


def up_since(since: datetime | None) -> str:
    if since is None:
        return ""
    return f"up since {_aware(since).astimezone():%Y-%m-%d %H:%M:%S}"


def _latest(stack_start: datetime | None, restart: datetime) -> datetime:
    """A restart before the stack's own start (an earlier run's) does not count."""
    if stack_start is None or _aware(restart) > _aware(stack_start):
        return restart
    return stack_start


def up_for(since: datetime | None, now: datetime | None = None) -> str:
    """How long a service has been up: "< 1 min", "12 min", "3 h 05 min", "2 d 4 h" (refreshed twice a minute)."""
    if since is None:
        return ""
    aware = _aware(since)
    seconds = max(0, int(((now or datetime.now(UTC)) - aware).total_seconds()))
    if seconds < 60:
        return "< 1 min"
    minutes, hours = seconds // 60, seconds // 3600
    if hours < 1:
        return f"{minutes} min"
    if hours < 24:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


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
    restart_wanted = Signal(str)   # a service's name: restart it in the running stack
    refresh_wanted = Signal()   # twice a minute while a running project's services are shown: Up, last lines

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
        for column, width in enumerate((110, 80, 110, 80, 210, 170)):
            self.tree.setColumnWidth(column, width)
        self._running_since: datetime | None = None
        self._since: dict[str, datetime] = {}   # services restarted alone since the stack started
        self._running = False
        self._up_timer = QTimer(self)   # Up ages and the last lines move while the panel is shown
        self._up_timer.setInterval(UP_REFRESH_MS)
        self._up_timer.timeout.connect(self._refresh_up)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self.show_service.emit(item.text(SERVICE)))
        self.tree.setToolTip("Double-click a service to show its log")
        self.copy_db = QPushButton("Copy connection string")
        self.copy_db.setObjectName("copy_db_url")
        self.copy_db.clicked.connect(self.copy_connection_string)
        self.restart = QPushButton("Restart service")
        self.restart.setObjectName("restart_service")
        self.restart.setEnabled(False)
        self.restart.setToolTip("Restart the selected service in the running stack; the services bound to it "
                                "restart with it (the engine stops them with it), the others keep running")
        self.restart.clicked.connect(self._restart_current)
        self._restarting = False
        self.show_log = QPushButton("Show its log")
        self.show_log.setObjectName("show_service_log")
        self.show_log.clicked.connect(self._show_current)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.restart)
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
                return item.text(STATE)
        raise KeyError(service)

    def column_of(self, service: str, column: int) -> str:
        for item in self._items():
            if item.text(SERVICE) == service:
                return item.text(column)
        raise KeyError(service)

    def _refresh_up(self) -> None:
        if not self.isVisible():
            return
        for item in self._items():
            if item.text(STATE) == "running":
                item.setText(UP, up_for(self._up_since(item.text(SERVICE))))
        self.refresh_wanted.emit()

    def show_row(self, row: ProjectRow | None, settings: AppSettings | None, secrets_dir: Path | None,
                 last_lines: Mapping[str, str], *, started: datetime | None = None,
                 restarted: Mapping[str, datetime] | None = None) -> None:
        """Show the services of `row`'s project (hidden without settings); `started`: when the stack became
        running (else the store's last start); `restarted`: when a service was last restarted alone."""
        if row is None or settings is None:   # settings: once the orchestrator is attached
            self._project = None
            self.tree.clear()
            self.title.setText("<b>Services</b> — select a project" if row is None else
                               "<b>Services</b> — loading the projects…")
            self.copy_db.setEnabled(False)
            self.restart.setEnabled(False)
            return
        project = row.project
        self._project, self._secrets_dir = project, secrets_dir
        plan = self._plan_for(project, settings)
        self.title.setText(f"<b>Services</b> — {len(plan.services)} in {project.name}'s stack")
        selected = self.tree.currentItem()
        current = selected.text(0) if selected is not None else None
        self.tree.clear()
        running = row.status == ProjectStatus.RUNNING
        self._running_since = (started or project.last_started_at) if running else None
        since = {name: _latest(self._running_since, at) for name, at in (restarted or {}).items()}
        self._since = {} if self._running_since is None else since
        if running and not self._up_timer.isActive():
            self._up_timer.start()
        elif not running:
            self._up_timer.stop()
        from cchub_desktop.health_monitor import service_health  # asyncio: not before the first paint

        for service in plan.services:
            line = last_lines.get(service.name, "")
            health = service_health(row.health, service.name) if running else ""
            item = QTreeWidgetItem([service.name, service_state(row, service.name),
                                    health or ("—" if running else ""), up_for(self._up_since(service.name)),
                                    listens_on(service), service.image, line[:LAST_LINE_CHARS]])
            item.setToolTip(LAST_LINE, line)
            if running:
                item.setToolTip(HEALTH, f"{service.name} is asked every few seconds over its host port" if health
                                else "no live check: the engine waited for its port at the start")
                item.setToolTip(UP, up_since(self._up_since(service.name)))
            self.tree.addTopLevelItem(item)
            if service.name == current:
                self.tree.setCurrentItem(item)
        self._running = running
        self.restart.setEnabled(running and not self._restarting)
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

    def _up_since(self, service: str) -> datetime | None:
        return self._since.get(service, self._running_since)

    def set_restarting(self, busy: bool) -> None:
        """While a restart runs, no second one (the button comes back when it has ended)."""
        self._restarting = busy
        self.restart.setEnabled(not busy and self._running)

    def _restart_current(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            self.title.setText("<b>Services</b> — select the service to restart")
            return
        self.restart_wanted.emit(item.text(SERVICE))

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
