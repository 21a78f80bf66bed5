"""The tray menu's contents, built from a snapshot of the projects each time the menu opens.

Layout (a line per project, each a submenu with what can be done to it now):

    CommandCenter Hub: 1 running, 1 failed        (summary, disabled)
    ● alpha — Running        ▸  Stop / Open in browser / Show in window
    ● beta — Failed          ▸  Start / Show in window
    Start all / Stop all
    Show window / Settings… / Quit

With more than MAX_INLINE_PROJECTS projects, the project lines move into a "Projects (N)" submenu, running
ones first. Building is plain QMenu/QAction work: 500 projects rebuild in a few tens of milliseconds.

`lazy` (where every submenu says it opens: tray_host.py): a project's line is made when its menu opens, with
its title, icon and tooltip, and its actions when the line's own submenu opens; the "Projects (N)" submenu's
lines when it opens. Otherwise (a menu exported over D-Bus) everything is made when the menu opens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu

from cchub_desktop import APP_NAME
from cchub_desktop.orchestrator import phase_text
from cchub_desktop.resources import TrayState
from cchub_desktop.stack.restart_lines import STACK_SERVICES
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import status_icon

RESTART_SERVICE = "restart-service:"   # + a service's name: an action of the "Restart service" submenu

MAX_INLINE_PROJECTS = 10
S = ProjectStatus
STATUS_WORDS: dict[ProjectStatus, str] = {
    S.RUNNING: "Running", S.STARTING: "Starting…", S.STOPPING: "Stopping…", S.ERROR: "Failed", S.STOPPED: "Stopped",
}
# Order of the project lines in the overflow submenu: what runs (or is about to) first.
_OVERFLOW_RANK: dict[ProjectStatus, int] = {S.RUNNING: 0, S.STARTING: 1, S.STOPPING: 2, S.ERROR: 3, S.STOPPED: 4}


@dataclass(frozen=True)
class TrayEntry:
    """One project as the tray shows it."""

    project_id: int
    name: str
    status: ProjectStatus
    url: str
    phase: str | None = None
    message: str | None = None

    def label(self) -> str:
        words = STATUS_WORDS[self.status]
        if self.status == S.STARTING and self.phase:
            words = f"Starting: {phase_text(self.phase)}"
        return f"{self.name} — {words}"


@dataclass(frozen=True)
class TrayCallbacks:
    """What the menu's actions do; the tray wires these to the orchestrator bridge and the window."""

    start: Callable[[int], None]
    stop: Callable[[int], None]
    open_in_browser: Callable[[int], None]
    show_project: Callable[[int], None]
    start_all: Callable[[], None]
    stop_all: Callable[[], None]
    show_window: Callable[[], None]
    add_project: Callable[[], None]
    open_settings: Callable[[], None]
    quit: Callable[[], None]
    backup: Callable[[int], None] | None = None  # "Back up database" (pg_dump to the backups folder)
    update_source: Callable[[int], None] | None = None  # "Update CommandCenter" (the newest commit)
    restart: Callable[[int], None] | None = None  # "Restart" (stop, then start again)
    restart_service: Callable[[int, str], None] | None = None  # "Restart service ▸ NAME" (in the running stack)


def tray_state(statuses: Iterable[ProjectStatus]) -> TrayState:
    """The icon to show: a failure first, then anything in motion, then anything running, else idle."""
    seen = set(statuses)
    if S.ERROR in seen:
        return TrayState.ERROR
    if S.STARTING in seen or S.STOPPING in seen:
        return TrayState.STARTING
    if S.RUNNING in seen:
        return TrayState.RUNNING
    return TrayState.IDLE


def summary(statuses: Iterable[ProjectStatus]) -> str:
    """"2 running, 1 starting, 1 failed"; "nothing running" when all are stopped (or there are none)."""
    counts = Counter(statuses)
    parts = [f"{counts[status]} {word}" for status, word in ((S.RUNNING, "running"), (S.STARTING, "starting"),
                                                            (S.STOPPING, "stopping"), (S.ERROR, "failed"))
             if counts[status]]
    return ", ".join(parts) if parts else "nothing running"


class TrayMenuBuilder:
    """Fills a QMenu from entries. Keeps the submenus it made so the next rebuild can delete them.

    Actions carry (what, project id) as their data and the root menu's `triggered` (which Qt also emits for
    actions of its submenus) dispatches them: one connection per menu instead of one per action keeps a
    500-project rebuild cheap.
    """

    def __init__(self, callbacks: TrayCallbacks, *, lazy: bool = True) -> None:
        self.callbacks = callbacks
        self.lazy = lazy
        self._submenus: list[QMenu] = []
        self._icons: dict[ProjectStatus, QIcon] = {}
        self._attached: list[QMenu] = []
        # what the shown menu was built from, to update it in place while it is open
        self._entries: dict[int, TrayEntry] = {}
        self._project_menus: dict[int, QMenu] = {}
        self._filled: set[int] = set()   # projects whose submenu has its actions
        self._overflow: QMenu | None = None   # "Projects (N)", until its lines are made
        self._header: QAction | None = None
        self._all_actions: tuple[QAction, QAction] | None = None

    def icon(self, status: ProjectStatus) -> QIcon:
        icon = self._icons.get(status)
        if icon is None:
            icon = self._icons[status] = status_icon(status, 16)
        return icon

    def rebuild(self, menu: QMenu, entries: Sequence[TrayEntry]) -> None:
        self.clear(menu)
        if not any(m is menu for m in self._attached):
            menu.triggered.connect(self.dispatch)
            self._attached.append(menu)
        menu.setToolTipsVisible(True)  # a failed project's line has its reason as tooltip
        self._entries = {e.project_id: e for e in entries}
        header = menu.addAction(f"{APP_NAME}: {summary(e.status for e in entries)}")
        header.setEnabled(False)
        header.setObjectName("tray_summary")
        self._header = header
        menu.addSeparator()
        if not entries:
            none = menu.addAction("No projects yet")
            none.setEnabled(False)
            _add(menu, "Add a project…", "add_project")
        elif len(entries) <= MAX_INLINE_PROJECTS:
            for entry in entries:
                self._add_project_menu(menu, entry)
        else:
            running = sum(1 for e in entries if e.status == S.RUNNING)
            title = f"Projects ({len(entries)}, {running} running)" if running else f"Projects ({len(entries)})"
            overflow = self._submenu(menu, title)
            overflow.setObjectName("tray_projects")
            overflow.setToolTipsVisible(True)
            self._overflow = overflow
            if self.lazy:
                overflow.aboutToShow.connect(lambda m=overflow: self._fill_overflow(m))
            else:
                self._fill_overflow(overflow)
        menu.addSeparator()
        self._all_actions = (_add(menu, "Start all", "start_all"), _add(menu, "Stop all", "stop_all"))
        self._update_all_actions()
        menu.addSeparator()
        _add(menu, "Show window", "show_window")
        _add(menu, "Settings…", "open_settings")
        _add(menu, "Quit", "quit")

    def dispatch(self, action: QAction) -> None:
        """Run what a triggered action stands for."""
        data = action.data()
        if not (isinstance(data, tuple) and len(data) == 2):
            return
        what, pid = data
        cb = self.callbacks
        if isinstance(what, str) and what.startswith(RESTART_SERVICE) and pid is not None:
            if cb.restart_service is not None:
                cb.restart_service(pid, what.removeprefix(RESTART_SERVICE))
            return
        per_project: dict[str, Callable[[int], None] | None] = {
            "start": cb.start, "stop": cb.stop, "open": cb.open_in_browser, "show": cb.show_project,
            "backup": cb.backup, "update": cb.update_source, "restart": cb.restart}
        if pid is not None:
            handler = per_project.get(what)
            if handler is not None:
                handler(pid)
            return
        plain: Callable[[], None] | None = getattr(cb, what, None)
        if plain is not None:
            plain()

    def update(self, project_id: int, status: ProjectStatus, phase: str | None, message: str | None) -> bool:
        """Change one project's line (and the summary) of the menu built last, in place, so an open menu
        never shows a stale state. False when that project is not in it (the caller rebuilds)."""
        old = self._entries.get(project_id)
        if old is None:
            return False
        entry = replace(old, status=status, phase=phase, message=message)
        self._entries[project_id] = entry
        sub = self._project_menus.get(project_id)
        if sub is not None:   # else its line is not made yet: it will be from this entry
            self._set_line(sub, entry)
            if project_id in self._filled:
                sub.clear()
                self._fill_actions(sub, entry)
        if self._header is not None:
            self._header.setText(f"{APP_NAME}: {summary(e.status for e in self._entries.values())}")
        self._update_all_actions()
        return True

    def _update_all_actions(self) -> None:
        if self._all_actions is None:
            return
        statuses = [e.status for e in self._entries.values()]
        start_all, stop_all = self._all_actions
        start_all.setEnabled(any(st in (S.STOPPED, S.ERROR) for st in statuses))
        stop_all.setEnabled(any(st in (S.STARTING, S.RUNNING) for st in statuses))

    def clear(self, menu: QMenu) -> None:
        self._project_menus.clear()
        self._filled.clear()
        self._overflow = None
        self._header = None
        self._all_actions = None
        menu.clear()
        for sub in self._submenus:
            sub.deleteLater()
        self._submenus.clear()

    def _submenu(self, parent: QMenu, title: str) -> QMenu:
        sub = QMenu(title, parent)
        parent.addMenu(sub)
        self._submenus.append(sub)
        return sub

    def _fill_overflow(self, overflow: QMenu) -> None:
        """The "Projects (N)" submenu opens: its lines, running ones first (once per rebuild)."""
        if overflow is not self._overflow:
            return
        self._overflow = None
        ordered = sorted(self._entries.values(), key=lambda e: (_OVERFLOW_RANK[e.status], e.name.casefold()))
        for entry in ordered:
            self._add_project_menu(overflow, entry)

    def _add_project_menu(self, parent: QMenu, entry: TrayEntry) -> None:
        pid = entry.project_id
        sub = self._submenu(parent, entry.label())
        sub.setToolTipsVisible(True)
        self._project_menus[pid] = sub
        self._set_line(sub, entry)
        if self.lazy:
            sub.aboutToShow.connect(lambda m=sub, p=pid: self._fill_project_menu(m, p))
        else:
            self._fill_project_menu(sub, pid)

    def _fill_project_menu(self, sub: QMenu, project_id: int) -> None:
        """A project's submenu opens (or, not lazy, is made): its actions, from its latest entry."""
        entry = self._entries.get(project_id)
        if entry is None or self._project_menus.get(project_id) is not sub or project_id in self._filled:
            return
        self._filled.add(project_id)
        self._fill_actions(sub, entry)

    def _set_line(self, sub: QMenu, entry: TrayEntry) -> None:
        sub.setTitle(entry.label())
        sub.menuAction().setIcon(self.icon(entry.status))
        sub.menuAction().setToolTip(entry.message if entry.status == S.ERROR and entry.message else "")

    def _fill_actions(self, sub: QMenu, entry: TrayEntry) -> None:
        pid = entry.project_id
        if entry.status in (S.STOPPED, S.ERROR):
            _add(sub, "Start", "start", pid)
        elif entry.status in (S.STARTING, S.RUNNING):
            _add(sub, "Stop", "stop", pid)
        else:
            sub.addAction("Stopping…").setEnabled(False)
        if entry.status == S.RUNNING:
            _add(sub, "Open in browser", "open", pid).setToolTip(entry.url)
            if self.callbacks.restart is not None:
                _add(sub, "Restart", "restart", pid)
            if self.callbacks.restart_service is not None:
                services = self._submenu(sub, "Restart service")
                services.setToolTipsVisible(True)
                for service in STACK_SERVICES:
                    _add(services, service, RESTART_SERVICE + service, pid).setToolTip(
                        f"Restart the {service} in the running stack (with the services bound to it)")
        if self.callbacks.backup is not None and entry.status in (S.RUNNING, S.STOPPED, S.ERROR):
            _add(sub, "Back up database", "backup", pid)
        if self.callbacks.update_source is not None and entry.status in (S.RUNNING, S.STOPPED, S.ERROR):
            _add(sub, "Update CommandCenter", "update", pid)
        _add(sub, "Show in window", "show", pid)


def _add(menu: QMenu, text: str, what: str, project_id: int | None = None) -> QAction:
    action = menu.addAction(text)
    action.setData((what, project_id))
    return action
