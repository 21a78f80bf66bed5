"""The main window's actions: building them with their shortcuts and toolbar, and keeping them enabled, named
and explained for the selection and the engine's state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.row_controls import frontend_answers
from cchub_desktop.ui.source_update import UPDATE_SOURCE, update_selected

if TYPE_CHECKING:
    from cchub_desktop.ui.main_window import MainWindow
    from cchub_desktop.ui.project_table_model import ProjectRow

ACTIVE = (ProjectStatus.STARTING, ProjectStatus.RUNNING)
LOADING = "Loading the projects…"  # why the actions that need the store wait (for a moment after launch)


def _action(window: MainWindow, text: str, shortcuts: list[QKeySequence], tip: str) -> QAction:
    action = QAction(text, window)
    action.setShortcuts(shortcuts)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setAutoRepeat(False)  # a held key is one request, not a start/stop every repeat
    action.setToolTip(f"{tip} ({shortcuts[0].toString(QKeySequence.SequenceFormat.NativeText)})")
    window.addAction(action)
    return action

def _upgrade_db(window: MainWindow) -> None:
    if not window.attached:
        return  # disabled until then (_until_attached)
    from cchub_desktop.ui.db_upgrade_dialog import upgrade_selected

    upgrade_selected(window)


def upgrade_db_of(window: MainWindow, project_id: int) -> None:
    """A row's ⋯ menu: Upgrade database… for that row's project."""
    window.select_project(project_id)
    _upgrade_db(window)


def build_actions(window: MainWindow) -> None:
    """The window's actions (with their shortcuts) and the toolbar that shows them."""
    key = QKeySequence
    window.add_action = _action(window, "Add project…", [key("Ctrl+N")], "Add a project")
    window.toggle_action = _action(window, "Start", [key(Qt.Key.Key_Return), key(Qt.Key.Key_Enter)],
                                      "Start or stop the selected project")
    window.open_action = _action(window, "Open", [key("Ctrl+O")], "Open the frontend in the browser")
    window.edit_action = _action(window, "Edit…", [key("Ctrl+E")], "Edit the selected project")
    window.remove_action = _action(window, "Remove…", [key(Qt.Key.Key_Delete)], "Remove the selected project")
    window.backup_action = _action(window, "Back up database", [key("Ctrl+B")],
                                      "Dump the selected project's database into the backups folder")
    window.docs_action = _action(window, "Open API docs", [key("Ctrl+D")],
                                    "Open the backend's API docs (/docs) in the browser")
    window.folder_action = _action(window, "Open project folder", [key("Ctrl+Shift+O")],
                                      "Show the project's folder in the file manager")
    window.start_many_action = QAction("Start selected", window)
    window.stop_many_action = QAction("Stop selected", window)
    window.backup_many_action = QAction("Back up selected", window)
    window.start_many_action.triggered.connect(window.start_selected)
    window.stop_many_action.triggered.connect(window.stop_selected)
    window.backup_many_action.triggered.connect(window.backup_all_selected)
    window.docs_action.triggered.connect(lambda: window._on_selected(window.open_docs))
    window.folder_action.triggered.connect(lambda: window._on_selected(window.open_project_folder))
    window.backup_action.triggered.connect(window.backup_selected)
    window.upgrade_db_action = QAction("Upgrade database…", window)
    window.upgrade_db_action.setToolTip("Move the selected project's database to the PostgreSQL version in "
                                        "Settings (the old database is kept)")
    window.upgrade_db_action.triggered.connect(lambda: _upgrade_db(window))
    window.restart_action = QAction("Restart", window)
    window.restart_action.setToolTip("Stop the selected project and start it again (all its services)")
    window.restart_action.triggered.connect(lambda: window._on_selected(window.restart_project))
    window.update_source_action = QAction(UPDATE_SOURCE, window)
    window.update_source_action.setToolTip("Move the selected project to the newest commit of Settings → Source")
    window.update_source_action.triggered.connect(lambda: update_selected(window))
    window.add_action.triggered.connect(window.add_project)
    window.toggle_action.triggered.connect(window.toggle_selected)
    window.open_action.triggered.connect(window.open_selected)
    window.edit_action.triggered.connect(window.edit_project)
    window.remove_action.triggered.connect(window.remove_selected)
    toolbar = QToolBar("Project actions")
    toolbar.setObjectName("project_actions")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for action in (window.add_action, window.toggle_action, window.open_action, window.edit_action,
                   window.remove_action, window.backup_action):
        toolbar.addAction(action)
        button = toolbar.widgetForAction(action)
        button.setAccessibleName(action.text().rstrip("…"))
        button.setObjectName(f"{action.text().rstrip('…').split()[0].lower()}_button")
    window.addToolBar(toolbar)
    window.toolbar = toolbar


def show_services(window: MainWindow, row: ProjectRow | None) -> None:
    """The services tab follows the selection (once the orchestrator is there: it knows the settings). Only
    while the tab is shown: its rows read the whole log, and showing the tab refreshes them."""
    if not window.services_shown():
        return
    if not window.attached or row is None:
        window.services.show_row(None, None, None, {})
        return
    from cchub_desktop.stack.restart_lines import restarted_in
    from cchub_desktop.ui.log_view import OUTPUT_PREFIX

    last: dict[str, str] = {}
    restarted: dict[str, datetime] = {}   # a service restarted alone since: its Up counts from then
    for line in reversed(window.orchestrator.log(row.project_id).lines()[1]):   # one pass, newest first
        last.setdefault(line.service, OUTPUT_PREFIX.sub("", line.text, count=1))   # as the log pane shows it
        if line.service == "hub":
            for service in restarted_in(line.text):
                restarted.setdefault(service, datetime.fromtimestamp(line.ts, UTC))
    started = window.orchestrator.started_at(row.project_id)   # before the store has it, when started here
    window.services.show_row(row, window.orchestrator.settings, window.orchestrator.paths.secrets_dir, last,
                             started=started or row.project.last_started_at, restarted=restarted)


def show_storage(window: MainWindow, row: ProjectRow | None) -> None:
    """The storage tab follows the selection, while it is shown (showing it refreshes it)."""
    if window.storage_shown():
        window.storage.show_row(row, window.orchestrator.paths if window.attached else None)
        if window.attached:
            window.storage.show_kept(window.orchestrator.kept_data())


def update_actions(window: MainWindow) -> None:
    """Enable, name and explain every action for the selection and the engine's state."""
    row = window.selected_row()
    window.detail.local_source = window.orchestrator.settings.source_local_dir.strip() if window.attached else ""
    window.detail.show_row(row)
    show_services(window, row)
    show_storage(window, row)
    status = row.status if row else None
    has = row is not None
    window.toggle_action.setEnabled(has and status != ProjectStatus.STOPPING)
    stop = status in ACTIVE
    blocked = window.engine_status.problem if not stop else None
    if blocked:
        window.toggle_action.setEnabled(False)
    window.toggle_action.setToolTip(blocked or ("Cancel the start of the selected project (Enter)"
                                                if status == ProjectStatus.STARTING
                                                else "Start or stop the selected project (Enter)"))
    words = "Cancel" if status == ProjectStatus.STARTING else "Stop" if stop else "Start"
    window.toggle_action.setText(words)
    toggle_button = window.toolbar.widgetForAction(window.toggle_action)
    toggle_button.setAccessibleName(words)
    window.open_action.setEnabled(row is not None and frontend_answers(row))
    window.docs_action.setEnabled(status == ProjectStatus.RUNNING)
    window.restart_action.setEnabled(window.attached and status == ProjectStatus.RUNNING)
    window.folder_action.setEnabled(has)
    many = window.selected_rows()
    # each names how many of the selected it acts on: "Start 7 of 12 selected"
    counts = (sum(r.status in (ProjectStatus.STOPPED, ProjectStatus.ERROR) for r in many),
              sum(r.status in ACTIVE for r in many),
              sum(r.status not in (ProjectStatus.STARTING, ProjectStatus.STOPPING) for r in many))
    for action, verb, n in zip((window.start_many_action, window.stop_many_action, window.backup_many_action),
                               ("Start", "Stop", "Back up"), counts, strict=True):
        action.setText(f"{verb} {n} selected" if n == len(many) else f"{verb} {n} of {len(many)} selected")
    startable = any(r.status in (ProjectStatus.STOPPED, ProjectStatus.ERROR) for r in many)
    window.start_many_action.setEnabled(not window.engine_status.problem and startable)
    window.stop_many_action.setEnabled(any(r.status in ACTIVE for r in many))
    window.backup_many_action.setEnabled(any(r.status != ProjectStatus.STARTING
                                           and r.status != ProjectStatus.STOPPING for r in many))
    window.edit_action.setEnabled(has)
    window.update_source_action.setEnabled(has and status not in (ProjectStatus.STARTING, ProjectStatus.STOPPING))
    window.remove_action.setEnabled(has and status in (ProjectStatus.STOPPED, ProjectStatus.ERROR))
    window.remove_action.setToolTip("Remove the selected project (Del)" if window.remove_action.isEnabled()
                                  else "Stop the project before removing it")
    window.backup_action.setEnabled(has and status in (ProjectStatus.RUNNING, ProjectStatus.STOPPED,
                                                     ProjectStatus.ERROR))
    window.upgrade_db_action.setEnabled(has)   # the dialog says why not, e.g. "stop it first"
    window.add_action.setEnabled(True)
    _until_attached(window)


def _until_attached(window: MainWindow) -> None:
    """Before the store and the orchestrator are attached (a moment after launch) the actions that need them are
    disabled, saying so; a Start is queued instead (MainWindow.toggle_project)."""
    for action in (window.add_action, window.edit_action, window.remove_action, window.backup_action,
                   window.backup_many_action, window.upgrade_db_action):
        if not window.attached:
            if action.toolTip() != LOADING:
                action.setProperty("ready_tip", action.toolTip())
            action.setEnabled(False)
            action.setToolTip(LOADING)
        elif action.toolTip() == LOADING:
            action.setToolTip(str(action.property("ready_tip") or ""))
