"""The system-tray icon: its icon and tooltip follow the stacks, its menu is rebuilt each time it opens.

Each project's submenu is filled when it opens, except where the menu is exported over D-Bus to a tray host
that may never say so (tray_host.py): there the whole menu is built up front, and again at each opening.

The icon shows the most urgent state of all projects (failed, starting/stopping, running, idle); the tooltip
sums it up ("2 running, 1 failed"). Menu actions go through the orchestrator bridge, like the window's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from cchub_desktop import APP_NAME
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.resources import TrayState
from cchub_desktop.store import ProjectStatus, ProjectStore, StoreError
from cchub_desktop.ui.bridge import OrchestratorBridge
from cchub_desktop.ui.icons import tray_icon
from cchub_desktop.ui.tray_host import menu_exported_over_dbus
from cchub_desktop.ui.tray_menu import TrayCallbacks, TrayEntry, TrayMenuBuilder, summary, tray_state

logger = logging.getLogger(__name__)
S = ProjectStatus


def frontend_url(orchestrator: Orchestrator, project_id: int, frontend_port: int) -> str:
    """The address the browser opens: the running stack's own, else localhost on the project's port."""
    stack = orchestrator.stack(project_id)
    url = getattr(stack, "frontend_url", None) if stack is not None else None
    return url if isinstance(url, str) and url else f"http://localhost:{frontend_port}"


def tray_available() -> bool:
    """True when the desktop shows tray icons now (a tray host such as a panel or trayer runs)."""
    return QSystemTrayIcon.isSystemTrayAvailable()


class TrayIcon(QObject):
    """Owns the QSystemTrayIcon and its menu. `on_show_window` etc. are what the app does for the menu.
    `lazy_menu`: fill each submenu when it opens (None: unless the menu is exported over D-Bus, tray_host.py)."""

    def __init__(self, store: ProjectStore, bridge: OrchestratorBridge, *,
                 show_window: Callable[[], None], show_project: Callable[[int], None],
                 add_project: Callable[[], None], open_settings: Callable[[], None],
                 quit: Callable[[], None], backup: Callable[[int], None] | None = None,
                 update_source: Callable[[int], None] | None = None,
                 restart_service: Callable[[int, str], None] | None = None,
                 lazy_menu: bool | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.bridge = bridge
        self.orchestrator = bridge.orchestrator
        self._show_window = show_window
        self._statuses: dict[int, ProjectStatus] = {}
        self.state = TrayState.IDLE
        self.quitting = False
        self.icon = QSystemTrayIcon(tray_icon(TrayState.IDLE), self)
        self.icon.setObjectName("tray_icon")
        self.menu = QMenu()
        self.menu.setObjectName("tray_menu")
        self.builder = TrayMenuBuilder(TrayCallbacks(
            start=self.start, stop=self.stop, open_in_browser=self.open_in_browser, show_project=show_project,
            start_all=self.start_all, stop_all=self.stop_all, show_window=show_window,
            add_project=add_project, open_settings=open_settings, quit=quit, backup=backup,
            update_source=update_source, restart=self.restart, restart_service=restart_service),
            lazy=not menu_exported_over_dbus() if lazy_menu is None else lazy_menu)
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self._menu_updates: dict[int, OrchestratorEvent] = {}
        self._menu_timer = QTimer(self)
        self._menu_timer.setSingleShot(True)
        self._menu_timer.setInterval(0)
        self._menu_timer.timeout.connect(self._update_open_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        bridge.project_event.connect(self.on_event)
        self.refresh()
        if not self.builder.lazy:
            self.rebuild_menu()  # a D-Bus tray host may read the menu without AboutToShow the first time

    # ----- state ----------------------------------------------------------------------------------------

    def entries(self) -> list[TrayEntry]:
        """Every project with its live status, in the store's order (by name)."""
        try:
            projects = self.store.rows()
        except StoreError as exc:
            logger.warning("the tray could not read the projects: %s", exc)
            return []
        entries: list[TrayEntry] = []
        for p in projects:
            assert p.id is not None
            status = self.orchestrator.state(p.id)
            entries.append(TrayEntry(p.id, p.name, status, self.frontend_url(p.id, p.frontend_port),
                                     self.orchestrator.phase(p.id), self.orchestrator.message(p.id)))
        return entries

    def frontend_url(self, project_id: int, frontend_port: int) -> str:
        return frontend_url(self.orchestrator, project_id, frontend_port)

    def refresh(self) -> None:
        """Re-read every project (after projects were added or removed) and update icon and tooltip."""
        self._statuses = {e.project_id: e.status for e in self.entries()}
        self._update_icon()

    def on_event(self, event: OrchestratorEvent) -> None:
        self._statuses[event.project_id] = event.status
        self._update_icon()
        if self.menu.isVisible() and not self.quitting:  # an open menu follows the states, in place
            # after this event's slot returns: the event may come from an action of this very menu, which
            # the update replaces (deleting a QAction inside its own trigger() crashes)
            self._menu_updates[event.project_id] = event
            self._menu_timer.start()

    def _update_open_menu(self) -> None:
        updates, self._menu_updates = self._menu_updates, {}
        if not self.menu.isVisible() or self.quitting:
            return
        for event in updates.values():
            self.builder.update(event.project_id, event.status, event.phase, event.message)

    def _update_icon(self) -> None:
        statuses = list(self._statuses.values())
        state = tray_state(statuses)
        if state != self.state:
            self.state = state
            self.icon.setIcon(tray_icon(state))
        if not self.quitting:
            self.icon.setToolTip(f"{APP_NAME}\n{summary(statuses)}")

    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_quitting(self) -> None:
        """While the app quits the menu only says so (its actions would race the shutdown)."""
        self.quitting = True
        self.icon.setToolTip(f"{APP_NAME}\nStopping every project…")
        self.rebuild_menu()

    def rebuild_menu(self) -> None:
        if self.quitting:
            self.builder.clear(self.menu)
            self.menu.addAction("Stopping every project…").setEnabled(False)
            return
        entries = self.entries()
        self._statuses = {e.project_id: e.status for e in entries}
        self._update_icon()
        self.builder.rebuild(self.menu, entries)

    # ----- actions --------------------------------------------------------------------------------------

    def start(self, project_id: int) -> None:
        self.bridge.start(project_id)

    def stop(self, project_id: int) -> None:
        self.bridge.stop(project_id)

    def restart(self, project_id: int) -> None:
        self.bridge.restart(project_id)

    def start_all(self) -> None:
        for entry in self.entries():
            if entry.status in (S.STOPPED, S.ERROR):
                self.bridge.start(entry.project_id)

    def stop_all(self) -> None:
        self.bridge.run(self.orchestrator.stop_all())

    def open_in_browser(self, project_id: int) -> None:
        if self.orchestrator.state(project_id) != S.RUNNING:
            return
        try:
            project = self.store.row(project_id)
        except (KeyError, StoreError):
            return
        url = QUrl(self.frontend_url(project_id, project.frontend_port))
        if not QDesktopServices.openUrl(url):   # no browser to start: Qt only logs it (seen on such a machine)
            QGuiApplication.clipboard().setText(url.toString())
            self.show_message(f"{project.name}: no web browser", f"No web browser could be started for "
                              f"{url.toString()}. The address is copied to the clipboard.",
                              QSystemTrayIcon.MessageIcon.Warning)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self._show_window()

    # ----- showing --------------------------------------------------------------------------------------

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()
        self.builder.clear(self.menu)

    def show_message(self, title: str, text: str, icon: QSystemTrayIcon.MessageIcon, msecs: int = 8000) -> None:
        self.icon.showMessage(title, text, icon, msecs)
