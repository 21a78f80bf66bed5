"""The main window: the project table, actions for the selected project, its log and the engine status."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

# light imports only (Qt, the stdlib read's types): the window paints before SQLModel, the orchestrator and the
# stack are imported (app.py attaches them right after the first paint); tests/test_ui_paint_first.py checks.
# The lower pane's pages are built later (the log by `complete()`, which the launch runs right after the first
# paint; the services and the storage when first shown): their modules are imported then.
from cchub_desktop import APP_NAME
from cchub_desktop.store import ProjectStatus, StoreError
from cchub_desktop.ui.box_width import fit_title
from cchub_desktop.ui.column_fit import ColumnFitter
from cchub_desktop.ui.detail_strip import DetailStrip
from cchub_desktop.ui.engine_status import EngineCheck, EngineStatusBar
from cchub_desktop.ui.project_filter import FilterBar, ProjectFilterProxy
from cchub_desktop.ui.project_menu import build_project_menu
from cchub_desktop.ui.project_table_model import WIDEST_STATUS, Column, ProjectRow, ProjectTableModel
from cchub_desktop.ui.remedies import CHANGE_PORTS, OPEN_SETTINGS, SHOW_LOG, remedy_for
from cchub_desktop.ui.row_controls import RowControlsManager, api_docs_url, frontend_answers, frontend_url
from cchub_desktop.ui.window_actions import LOADING, build_actions, update_actions, upgrade_db_of

if TYPE_CHECKING:
    import asyncio

    from cchub_desktop.lifecycle_events import OrchestratorEvent
    from cchub_desktop.orchestrator import Orchestrator
    from cchub_desktop.store import Project, ProjectStore
    from cchub_desktop.store.rows import StoredProject
    from cchub_desktop.ui.bridge import OrchestratorBridge
    from cchub_desktop.ui.log_view import LogView
    from cchub_desktop.ui.project_dialog import ProjectDialog
    from cchub_desktop.ui.remove_dialog import RemoveProjectDialog
    from cchub_desktop.ui.services_panel import ServicesPanel
    from cchub_desktop.ui.storage_panel import StoragePanel

EMPTY_HINT = ("No projects yet. Add one (Ctrl+N) and pick its folder: the app runs a CommandCenter stack "
              "for it — PostgreSQL, Redis, backend and frontend — on its own ports.")
ACTIVE = (ProjectStatus.STARTING, ProjectStatus.RUNNING)
LOG_TAB, SERVICES_TAB, STORAGE_TAB = "Log", "Services", "Storage"
MIN_WIDTH, MIN_HEIGHT = 680, 480   # the window never gets smaller: see setMinimumSize


def launch_row(project: StoredProject) -> ProjectRow:
    """A row as the window shows it before the orchestrator is attached: what Orchestrator.reconcile_on_launch
    will make of it (a start, run or stop recorded by an earlier run has no stack now: stopped)."""
    try:
        status = ProjectStatus(project.status)
    except ValueError:
        status = ProjectStatus.STOPPED
    if status not in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
        return ProjectRow(project, ProjectStatus.STOPPED)
    return ProjectRow(project, status, message=project.last_error if status == ProjectStatus.ERROR else None)


class MainWindow(QMainWindow):
    close_requested = Signal()  # the user closed the window; the app decides (quit, or hide to the tray)
    settings_requested = Signal()  # "Open Settings" on a failure; the tray integration opens the dialog
    # made by window_actions.build_actions
    add_action: QAction
    toggle_action: QAction
    open_action: QAction
    edit_action: QAction
    remove_action: QAction
    backup_action: QAction
    upgrade_db_action: QAction
    docs_action: QAction
    folder_action: QAction
    start_many_action: QAction
    stop_many_action: QAction
    backup_many_action: QAction
    update_source_action: QAction
    restart_action: QAction
    toolbar: QToolBar
    log_view: LogView   # made by complete()
    # set by attach_orchestrator; until then (`attached` False) the window shows the rows it was given
    store: ProjectStore
    bridge: OrchestratorBridge
    orchestrator: Orchestrator

    def __init__(self, store: ProjectStore | None, bridge: OrchestratorBridge | None,
                 engine_check: EngineCheck | None = None, parent: QWidget | None = None, *,
                 stored: Sequence[StoredProject] = (), first_paint: bool = False) -> None:
        """With a store and a bridge, the window is attached at once. Without them it shows `stored` (the rows
        read with the stdlib, store/rows.py) until `attach_orchestrator`: Start is queued meanwhile, the actions
        that need the store are disabled, and the status bar says the projects are loading.

        `first_paint`: build only what the first paint shows (the toolbar, the project table with its rows, the
        detail strip, the engine line, the lower pane's tabs); the rows' buttons and the log's page come with
        `complete()`, which the launch runs right after that paint (ui/first_window.py)."""
        super().__init__(parent)
        self.attached = False
        self.completed = False
        self._services: ServicesPanel | None = None   # built when first shown (the services property)
        self._storage: StoragePanel | None = None
        self._queued_starts: dict[int, ProjectRow] = {}  # Start clicked before attach: the row as it was
        self.project_dialog: ProjectDialog | None = None
        self.remove_dialog: RemoveProjectDialog | None = None
        self.error_box: QMessageBox | None = None
        self.intercept_close = False
        self._last_toggle: tuple[int | None, float] = (None, 0.0)
        self.setWindowTitle(APP_NAME)
        self.resize(1080, 680)
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)   # Name, Status and the row's buttons, and a few rows

        self.model = ProjectTableModel(self)
        self.proxy = ProjectFilterProxy(self.model, self)
        self.table = QTableView()
        self.table.setObjectName("projects_table")
        self.table.setAccessibleName("Projects")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.context_menu: QMenu | None = None
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Column.HEALTH, QHeaderView.ResizeMode.Stretch)
        status_width = max(170, self.table.fontMetrics().horizontalAdvance(WIDEST_STATUS) + 40)  # + dot, margins
        for column, width in ((Column.NAME, 140), (Column.FOLDER, 190), (Column.STATUS, status_width),
                              (Column.PORTS, 190), (Column.CONTROLS, 250)):
            self.table.setColumnWidth(column, width)
        # narrow windows: Folder, then Ports, then Health step aside; the row's buttons stay in view
        self.column_fitter = ColumnFitter(self.table, (Column.FOLDER, Column.PORTS, Column.HEALTH), Column.HEALTH)
        self.table.verticalHeader().setDefaultSectionSize(max(30, self.table.verticalHeader().defaultSectionSize()))
        self.filter_bar = FilterBar(self.proxy)
        self.row_controls = RowControlsManager(self.table, self.proxy, self.model, self._row_toggled,
                                               self.open_project, self.open_docs, self.open_project_folder,
                                               on_upgrade_db=lambda pid: upgrade_db_of(self, pid),
                                               held=first_paint)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.table.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        self.table.doubleClicked.connect(lambda _i: self.edit_project())

        self.empty_hint = QLabel(EMPTY_HINT)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setObjectName("empty_hint")
        self.engine_status = EngineStatusBar(engine_check)
        self.engine_status.changed.connect(self._engine_changed)
        self._build_actions()
        self.row_controls.mirror((self.edit_action, self.backup_action, self.update_source_action,
                                  self.remove_action), self._row_menu_opening)

        top = QWidget()
        self._top_layout = QVBoxLayout(top)
        self._top_layout.setContentsMargins(0, 0, 0, 0)
        self._top_layout.addWidget(self.empty_hint)
        self._top_layout.addWidget(self.filter_bar)
        self._top_layout.addWidget(self.table, 1)
        self.detail = DetailStrip()
        self.detail.remedy.connect(self._remedy)
        self._top_layout.addWidget(self.detail)
        # the log and the services share the lower pane, so the project table keeps its height. Its pages are
        # empty until built: the log by complete(), the services and the storage when first shown
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setObjectName("bottom_tabs")
        self.bottom_tabs.setDocumentMode(True)
        for title in (LOG_TAB, SERVICES_TAB, STORAGE_TAB):
            self.bottom_tabs.addTab(QWidget(), title)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.bottom_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        # 3:2 from the start, not from the pages' size hints (the log's page comes later). Sizes larger than the
        # splitter are scaled to it in proportion; small ones ([3, 2]) leave it to the size hints, which gave the
        # log pane its minimum: two lines of log in a 680-pixel window.
        splitter.setSizes([3000, 2000])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.engine_status)
        self.setCentralWidget(central)
        # keys act on the projects when the window opens (Del, Enter, Ctrl+O), not in the filter box before it
        self.table.setFocus()
        if not first_paint:
            self.complete()

        if store is not None and bridge is not None:
            self.attach_orchestrator(store, bridge)
        else:
            self.statusBar().showMessage(LOADING)
            self._show_rows([launch_row(p) for p in stored], None)

    def attach_orchestrator(self, store: ProjectStore, bridge: OrchestratorBridge) -> None:
        """Everything that needs the orchestrator: its events, the first load of the rows from the store, and
        the starts asked for before it was there."""
        self.complete()
        self.store = store
        self.bridge = bridge
        self.orchestrator = bridge.orchestrator
        was_attached, self.attached = self.attached, True
        if not was_attached:
            self.bridge.project_event.connect(self.on_event)
        if self.statusBar().currentMessage() == LOADING:
            self.statusBar().clearMessage()
        self.reload()
        queued, self._queued_starts = list(self._queued_starts), {}
        for pid in queued:
            if not self.engine_status.problem and self.orchestrator.state(pid) in (ProjectStatus.STOPPED,
                                                                                  ProjectStatus.ERROR):
                self.bridge.start(pid)
        if queued:
            self._update_actions()

    def complete(self) -> None:
        """The parts the first paint goes without: the log's page and the rows' buttons. Once, before anything
        can use them (MainWindow() runs it unless told `first_paint`; the launch runs it right after the first
        paint)."""
        if self.completed:
            return
        from cchub_desktop.ui.log_view import LogView

        self.log_view = LogView()
        self._put_tab(LOG_TAB, self.log_view)
        self.bottom_tabs.currentChanged.connect(self._tab_changed)
        self.completed = True
        self.row_controls.release()
        self._selection_changed()

    @property
    def services(self) -> ServicesPanel:
        """The services tab's panel, built on first use."""
        if self._services is None:
            from cchub_desktop.ui.service_restart_actions import restart_service
            from cchub_desktop.ui.services_panel import ServicesPanel
            from cchub_desktop.ui.window_actions import show_services

            panel = ServicesPanel()
            panel.show_service.connect(self.show_service_log)
            panel.refresh_wanted.connect(lambda: show_services(self, self.selected_row()))
            panel.restart_wanted.connect(lambda service: restart_service(self, service))
            self._services = panel
            self._put_tab(SERVICES_TAB, panel)
        return self._services

    @property
    def storage(self) -> StoragePanel:
        """The storage tab's panel, built on first use."""
        if self._storage is None:
            from cchub_desktop.ui.storage_panel import StoragePanel

            panel = StoragePanel()
            panel.open_folder.connect(self._open_storage_folder)
            panel.delete_kept.connect(self._ask_delete_kept)
            self._storage = panel
            self._put_tab(STORAGE_TAB, panel)
        return self._storage

    def services_shown(self) -> bool:
        """The services tab is the lower pane's current page (then it is built)."""
        return self._services is not None and self.bottom_tabs.currentWidget() is self._services

    def storage_shown(self) -> bool:
        return self._storage is not None and self.bottom_tabs.currentWidget() is self._storage

    def _put_tab(self, title: str, panel: QWidget) -> None:
        """Put the built panel in the place of its tab's empty page, on the same tab as before."""
        tabs = self.bottom_tabs
        index = next(i for i in range(tabs.count()) if tabs.tabText(i) == title)
        current = tabs.currentIndex()
        page = tabs.widget(index)
        tabs.blockSignals(True)
        try:
            tabs.removeTab(index)
            tabs.insertTab(index, panel, title)
            tabs.setCurrentIndex(current)
        finally:
            tabs.blockSignals(False)
        if page is not None:
            page.deleteLater()

    def _tab_changed(self, index: int) -> None:
        title = self.bottom_tabs.tabText(index)
        if title == SERVICES_TAB:
            self.services   # noqa: B018 (built now, before it is filled)
        elif title == STORAGE_TAB:
            self.storage   # noqa: B018
        self._update_actions()   # the tab shown is filled from the selection (fresh last lines)

    # ----- building -----------------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        build_actions(self)

    # ----- state ----------------------------------------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> None:
        """Re-read the projects from the store, keeping (or moving) the selection."""
        if not self.attached:
            return  # the rows read at launch stay until the store is there
        keep = select_id if select_id is not None else self.selected_id()
        try:
            projects = self.store.rows()
        except StoreError as exc:
            self.show_error("The project list could not be read", exc.args[0] if exc.args else str(exc))
            projects = []
        rows: list[ProjectRow] = []
        for p in projects:
            assert p.id is not None
            rows.append(ProjectRow(p, self.orchestrator.state(p.id), self.orchestrator.phase(p.id),
                                   self.orchestrator.message(p.id), self.orchestrator.health(p.id)))
        self._show_rows(rows, keep)

    def _show_rows(self, rows: list[ProjectRow], keep: int | None) -> None:
        self.model.set_rows(rows)
        self.empty_hint.setVisible(not rows)
        row = self.model.row_of(keep) if keep is not None else None
        if row is None and rows:
            row = 0
        if row is not None:
            self.select_row(row)
        else:
            self._selection_changed()

    def select_row(self, row: int) -> None:
        """Select the model's `row` (clearing a filter that hides it)."""
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid() and self.proxy.is_filtering():
            self.filter_bar.text.clear()
            self.filter_bar.status.setCurrentIndex(0)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)
        self._selection_changed()

    def select_project(self, project_id: int) -> None:
        row = self.model.row_of(project_id)
        if row is not None:
            self.select_row(row)

    def selected_rows(self) -> list[ProjectRow]:
        """Every selected row, top to bottom."""
        indexes = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        rows = (self.model.row_at(self.proxy.mapToSource(i).row()) for i in indexes)
        return [r for r in rows if r is not None]

    def selected_row(self) -> ProjectRow | None:
        """The row the single-project actions act on: the current row if it is selected, else the first."""
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row(), current.parent()):
            return self.model.row_at(self.proxy.mapToSource(current).row())
        rows = self.selected_rows()
        return rows[0] if rows else None

    def selected_id(self) -> int | None:
        row = self.selected_row()
        return row.project_id if row else None

    def on_event(self, event: OrchestratorEvent) -> None:
        self.complete()
        before = self.model.row_for(event.project_id)
        if before is None:
            return
        if event.notice:   # refused: another process owns the project (lease.py); it says where
            self.statusBar().showMessage(event.notice, 20000)
        if event.status == ProjectStatus.RUNNING and before.status != ProjectStatus.RUNNING:
            self.detail.note_started(event.project_id, self.orchestrator.started_at(event.project_id))
        self.model.apply_event(event)
        if event.status == ProjectStatus.ERROR and before.status == ProjectStatus.STARTING \
                and remedy_for(event.message or "") == OPEN_SETTINGS:
            self.engine_status.recheck()  # a start failed on the engine: the engine line must say so
        elif event.status == ProjectStatus.RUNNING and self.engine_status.ok is False:
            self.engine_status.recheck()  # a stack runs, so the engine works: the "bad" verdict is stale
        selected = event.project_id == self.selected_id()
        if selected:
            self._update_actions()
        if event.status == ProjectStatus.ERROR and event.message and self.isVisible():
            what = {ProjectStatus.STARTING: "could not start", ProjectStatus.RUNNING: "stopped unexpectedly",
                    ProjectStatus.STOPPING: "did not stop cleanly"}.get(before.status, "failed")
            if selected:
                self.show_error(f"{before.project.name} {what}", event.message,
                                in_log=self.orchestrator.has_details(event.project_id))
            else:  # no box over what the user is looking at: the row turns red, the status bar says so
                self.statusBar().showMessage(f"{before.project.name} {what} — select it to see why.", 15000)

    def _ask_delete_kept(self, key: str, what: str) -> None:
        # imported here: it imports asyncio, which the first paint does without
        from cchub_desktop.ui.kept_data_actions import ask_delete_kept

        ask_delete_kept(self, key, what)

    def _open_storage_folder(self, path: str) -> None:
        from cchub_desktop.ui.folder_open import open_folder

        problem = open_folder(path)
        if problem is not None:
            self.statusBar().showMessage(problem, 20000)

    def _selection_changed(self) -> None:
        row = self.selected_row()
        if not self.completed:
            pass   # no log pane yet: complete() comes back here
        elif row is None:
            self.log_view.set_source(None, "Log")
        elif not self.attached:
            self.log_view.set_source(None, f"Log — {row.project.name}")
        else:
            log = self.orchestrator.log(row.project_id)
            title = f"Log — {row.project.name}"
            if log is not self.log_view.source:   # the same project again (a reload): keep what the pane shows
                self.log_view.set_source(log, title)
            elif self.log_view.title.text() != title:
                self.log_view.title.setText(title)   # renamed
        self._update_actions()

    def _update_actions(self) -> None:
        update_actions(self)

    def _engine_changed(self) -> None:
        """While the engine is known bad, every Start is disabled with the reason as its tooltip."""
        self.row_controls.start_blocked = self.engine_status.problem
        self.row_controls.refresh_all()
        self._update_actions()

    def settings_changed(self) -> None:
        """The settings were saved: the engine may be another one now."""
        self.engine_status.recheck()

    # ----- actions -------------------------------------------------------------------------------------------

    def _remedy(self, what: str, pid: int) -> None:
        """The detail strip's button for a failure (the strip is in the first paint: the log may not be yet)."""
        self.complete()
        if what == OPEN_SETTINGS:
            self.settings_requested.emit()
        elif what == CHANGE_PORTS:
            self.select_project(pid)
            self.edit_project()
            if self.project_dialog is not None:
                self.project_dialog.review_ports()
        elif what == SHOW_LOG:
            self.select_project(pid)
            self.log_view.show_end()

    def add_project(self) -> None:
        if not self.attached:
            return  # disabled until then (window_actions.update_actions)
        from cchub_desktop.ui.project_dialog import ProjectDialog

        dialog = ProjectDialog(self.store, parent=self)
        self._open_project_dialog(dialog)

    def edit_project(self) -> None:
        row = self.selected_row()
        if row is None or not self.attached:
            return
        from cchub_desktop.ui.project_dialog import ProjectDialog

        try:
            project = self.store.get(row.project_id)
        except (KeyError, StoreError) as exc:
            self.show_error("The project could not be read", str(exc))
            self.reload()
            return
        stopped = self.orchestrator.state(row.project_id) in (ProjectStatus.STOPPED, ProjectStatus.ERROR)
        pid = row.project_id
        dialog = ProjectDialog(self.store, project, editable_runtime=stopped, parent=self,
                               hold=lambda: self.orchestrator.lease_for_job(pid, "being edited"))
        self._open_project_dialog(dialog)

    def _open_project_dialog(self, dialog: ProjectDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._project_saved)
        dialog.finished.connect(lambda _r: setattr(self, "project_dialog", None))
        self.project_dialog = dialog
        dialog.open()

    def _project_saved(self, project: Project) -> None:
        self.reload(select_id=project.id)

    def toggle_selected(self) -> None:
        """Start or stop the selected project."""
        pid = self.selected_id()
        if pid is not None:
            self.toggle_project(pid)

    def _row_toggled(self, pid: int) -> None:
        """A row's own Start/Stop/Cancel: that row becomes the selected one (its log and details show)."""
        self.select_project(pid)
        self.toggle_project(pid)

    def _row_menu_opening(self, pid: int) -> None:
        self.select_project(pid)
        self._update_actions()

    def toggle_project(self, pid: int) -> None:
        """Start or stop one project. A second click within the double-click interval is the
        same request (a double-click on Start starts once; it does not start and then stop)."""
        if self.engine_status.problem and self._state(pid) in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
            return  # Start is disabled while the engine is known bad
        now = time.monotonic()
        last_pid, last_at = self._last_toggle
        if pid == last_pid and now - last_at < QApplication.doubleClickInterval() / 1000:
            return
        self._last_toggle = (pid, now)
        if not self.attached:
            if pid in self._queued_starts:
                self._unqueue_start(pid)
            else:
                self._queue_start(pid)
        else:
            self.bridge.toggle(pid)
        self._update_actions()

    def _state(self, pid: int) -> ProjectStatus | None:
        if self.attached:
            return self.orchestrator.state(pid)
        row = self.model.row_for(pid)
        return row.status if row else None

    def _queue_start(self, pid: int) -> None:
        """Start asked for before the orchestrator is attached: the row says Starting, and attach starts it."""
        row = self.model.row_for(pid)
        if row is None or row.status not in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
            return
        from cchub_desktop.lifecycle_events import OrchestratorEvent

        self._queued_starts[pid] = row
        self.model.apply_event(OrchestratorEvent(pid, ProjectStatus.STARTING, None, None))

    def _unqueue_start(self, pid: int) -> None:
        """Stop on a start that was only queued: nothing was started, the row is as it was."""
        from cchub_desktop.lifecycle_events import OrchestratorEvent

        row = self._queued_starts.pop(pid)
        self.model.apply_event(OrchestratorEvent(pid, row.status, row.phase, row.message, row.health))

    def open_selected(self) -> None:
        self._on_selected(self.open_project)

    def _on_selected(self, act: Callable[[int], None]) -> None:
        pid = self.selected_id()
        if pid is not None:
            act(pid)

    def show_service_log(self, service: str) -> None:
        """The log tab, filtered to one service (the services tab's double-click and Show its log)."""
        self.bottom_tabs.setCurrentWidget(self.log_view)
        self.log_view.show_service(service)

    def restart_project(self, pid: int) -> None:
        """Stop the project and start it again (the context menu, the tray)."""
        if self.attached:
            self.bridge.restart(pid)

    def open_project(self, pid: int) -> None:
        """Open the project's frontend in the browser, if it answers."""
        row = self.model.row_for(pid)
        if row is not None and frontend_answers(row):
            self._open_in_browser(frontend_url(row), row.project.name)

    def open_docs(self, pid: int) -> None:
        row = self.model.row_for(pid)
        if row is not None and row.status == ProjectStatus.RUNNING:
            self._open_in_browser(api_docs_url(row), row.project.name)

    def _open_in_browser(self, url: QUrl, name: str) -> None:
        """Hand `url` to the browser; when none could be started, say so and copy the address (Qt only logs
        `Unable to detect a web browser`: seen on a machine with none, where Open did nothing visible)."""
        if QDesktopServices.openUrl(url):
            return
        QGuiApplication.clipboard().setText(url.toString())
        self.show_error(f"{name} could not be opened in a browser",
                        f"No web browser could be started for {url.toString()} (none is set up as the "
                        "desktop's default). The address is copied to the clipboard: paste it into a browser.")

    def open_project_folder(self, pid: int) -> None:
        row = self.model.row_for(pid)
        if row is None:
            return
        from cchub_desktop.ui.folder_open import open_folder, unsure_hint

        problem = open_folder(row.project.path)
        if problem is not None:
            self.show_error(f"The folder of {row.project.name} could not be opened", problem)
        elif (hint := unsure_hint(row.project.path)) is not None:
            self.statusBar().showMessage(hint, 20000)

    def start_selected(self) -> None:
        if self.engine_status.problem:
            return
        for row in self.selected_rows():
            if row.status in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
                if self.attached:
                    self.bridge.start(row.project_id)
                else:
                    self._queue_start(row.project_id)
        self._update_actions()

    def stop_selected(self) -> None:
        for row in self.selected_rows():
            if not self.attached:
                if row.project_id in self._queued_starts:
                    self._unqueue_start(row.project_id)
            elif row.status in ACTIVE:
                self.bridge.stop(row.project_id)
        self._update_actions()

    def backup_all_selected(self) -> None:
        for row in self.selected_rows():
            self._backup(row)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), index.parent()):
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self._update_actions()
        menu = build_project_menu(self, len(self.selected_rows()))
        self.context_menu = menu
        menu.aboutToHide.connect(lambda m=menu: setattr(self, "context_menu", None))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row is None or row.status not in (ProjectStatus.STOPPED, ProjectStatus.ERROR) or not self.attached:
            return
        from cchub_desktop.ui.remove_dialog import RemoveProjectDialog

        dialog = RemoveProjectDialog(row.project, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.confirmed.connect(lambda delete_data, pid=row.project_id: self._remove(pid, delete_data))
        dialog.finished.connect(lambda _r: setattr(self, "remove_dialog", None))
        self.remove_dialog = dialog
        dialog.open()

    def _remove(self, project_id: int, delete_data: bool) -> None:
        row = self.model.row_for(project_id)
        name = row.project.name if row else "the project"
        what = " and its data" if delete_data else ""
        self.statusBar().showMessage(f"Removing {name}{what}…")
        task = self.bridge.run(self.orchestrator.remove(project_id, delete_data=delete_data))
        task.add_done_callback(lambda t: self._removed(name, None if t.cancelled() else t.exception()))

    def _removed(self, name: str, error: BaseException | None) -> None:
        self.statusBar().clearMessage()
        if error is not None:
            self.show_error(f"{name} was not removed", str(error))
        else:
            self.statusBar().showMessage(f"Removed {name}.", 5000)
        self.reload()

    def backup_selected(self) -> None:
        """pg_dump the selected project's database (in its running session, or alone when stopped); the
        status bar names the file, an error box says why there is none."""
        row = self.selected_row()
        if row is not None:
            self._backup(row)

    def _backup(self, row: ProjectRow) -> None:
        if not self.attached or row.status not in (ProjectStatus.RUNNING, ProjectStatus.STOPPED, ProjectStatus.ERROR):
            return
        name = row.project.name
        self.statusBar().showMessage(f"Backing up the database of {name}…")
        task = self.bridge.run(self.orchestrator.backup(row.project_id))
        task.add_done_callback(lambda t: self._backed_up(name, t))

    def _backed_up(self, name: str, task: asyncio.Task[Path]) -> None:
        self.statusBar().clearMessage()
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.show_error(f"{name}: the database was not backed up", str(error),
                            in_log=getattr(error, "logged", False))
        else:
            self.statusBar().showMessage(f"{name}: database saved to {task.result()}", 20000)

    def show_error(self, title: str, message: str, *, in_log: bool = False) -> None:
        """A non-blocking message box; `in_log`: the selected project's log has the technical detail (the box
        says so only then)."""
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_box")
        fit_title(box)
        if remedy_for(message) == OPEN_SETTINGS:
            settings = box.addButton(OPEN_SETTINGS, QMessageBox.ButtonRole.ActionRole)
            settings.clicked.connect(self.settings_requested.emit)
        if in_log:
            box.setInformativeText("The log pane has the technical details.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._error_closed(b))
        self.error_box = box
        box.open()

    def _error_closed(self, box: QMessageBox) -> None:
        if self.error_box is box:
            self.error_box = None

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.intercept_close:
            event.ignore()
            self.close_requested.emit()
            return
        super().closeEvent(event)
