"""Each project row's own controls: a start/stop toggle that shows the phase while it moves, an Open button
that is enabled only while the frontend answers, and a menu for the API docs and the project folder.

The widgets are index widgets in the table's Controls column, created only for the rows the user can see
(and kept once made), so 500 projects cost the few dozen rows on screen, not 500 widget trees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSortFilterProxyModel, Qt, QTimer, QUrl
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QMenu, QPushButton, QTableView, QToolButton, QWidget

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import Column, ProjectRow, ProjectTableModel

ACTIVE = (ProjectStatus.STARTING, ProjectStatus.RUNNING)
TOGGLE_WIDTH = 150


def frontend_answers(row: ProjectRow) -> bool:
    """Running and the last health probe did not name the frontend."""
    return row.status == ProjectStatus.RUNNING and "frontend" not in (row.health or "")


def frontend_url(row: ProjectRow) -> QUrl:
    return QUrl(f"http://localhost:{row.project.frontend_port}")


def api_docs_url(row: ProjectRow) -> QUrl:
    # FastAPI serves its interactive docs at /docs (the upstream CommandCenter repository's backend/app/main.py
    # builds a FastAPI() app with the default docs_url)
    return QUrl(f"http://localhost:{row.project.backend_port}/docs")


class RowControls(QWidget):
    """The controls of one row. It knows its project id; the window tells it the row's state."""

    def __init__(self, project_id: int, on_toggle: Callable[[int], None], on_open: Callable[[int], None],
                 on_docs: Callable[[int], None], on_folder: Callable[[int], None],
                 parent: QWidget | None = None, *, on_upgrade_db: Callable[[int], None] | None = None,
                 on_menu: Callable[[int], None] | None = None, mirrored: Sequence[QAction] = ()) -> None:
        super().__init__(parent)
        self._on_menu = on_menu
        self.project_id = project_id
        self.startable = True
        self.toggle = QPushButton("Start")
        self.toggle.setObjectName("row_toggle")
        self.toggle.setCheckable(True)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Enter on the table toggles; Tab stays in the table
        self.toggle.setMinimumWidth(TOGGLE_WIDTH)
        self.toggle.clicked.connect(lambda _c: on_toggle(self.project_id))
        self.open = QPushButton("Open")
        self.open.setObjectName("row_open")
        self.open.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.open.clicked.connect(lambda _c: on_open(self.project_id))
        self.more = QToolButton()
        self.more.setText("⋯")
        self.more.setObjectName("row_more")
        self.more.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.more.pressed.connect(self._open_menu)   # pops up the menu, built at its first opening (idle memory)
        self._menu: QMenu | None = None
        self._callbacks = (on_docs, on_folder, on_upgrade_db)
        self._mirrored = tuple(mirrored)
        self._mirrors: list[tuple[QAction, QAction]] = []
        self.docs_action: QAction | None = None
        self._running = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(4)
        layout.addWidget(self.toggle)
        layout.addWidget(self.open)
        layout.addWidget(self.more)
        layout.addStretch(1)

    def show_row(self, row: ProjectRow) -> None:
        name = row.project.name
        status = row.status
        on = status in ACTIVE
        self.startable = not on
        self.toggle.setChecked(on and status != ProjectStatus.STARTING)   # Cancel: a plain button, not "on"
        # while starting the toggle cancels the start (a first build takes minutes); while stopping it waits
        self.toggle.setEnabled(status != ProjectStatus.STOPPING)
        if status == ProjectStatus.STARTING:
            self.toggle.setText("Cancel")
            self.toggle.setAccessibleName(f"Cancel starting {name}")
            self.toggle.setToolTip(f"{row.status_full_text()}. Click to cancel the start.")
        elif status == ProjectStatus.STOPPING:
            self.toggle.setText("Stopping…")
            self.toggle.setAccessibleName(f"Stopping {name}")
            self.toggle.setToolTip(f"{name} is stopping")
        else:
            self.toggle.setText("Stop" if on else "Start")
            self.toggle.setAccessibleName(f"Stop {name}" if on else f"Start {name}")
            self.toggle.setToolTip(f"Stop {name}" if on else f"Start {name}")
        answers = frontend_answers(row)
        self.open.setEnabled(answers)
        self.open.setAccessibleName(f"Open {name} in browser")
        self.open.setToolTip(f"Open {frontend_url(row).toString()}" if answers
                             else "The frontend is not answering" if status == ProjectStatus.RUNNING
                             else f"Start {name} first")
        self.more.setAccessibleName(f"More actions for {name}")
        self._running = status == ProjectStatus.RUNNING
        if self.docs_action is not None:
            self.docs_action.setEnabled(self._running)

    def more_menu(self) -> QMenu:
        """The ⋯ menu, built the first time it is asked for: API docs, the project folder, Upgrade database…
        and the window's actions for this row."""
        if self._menu is not None:
            return self._menu
        on_docs, on_folder, on_upgrade_db = self._callbacks
        menu = QMenu(self.more)
        self.docs_action = menu.addAction("Open API docs")
        self.docs_action.triggered.connect(lambda: on_docs(self.project_id))
        self.docs_action.setEnabled(self._running)
        menu.addAction("Open project folder").triggered.connect(lambda: on_folder(self.project_id))
        if on_upgrade_db is not None:
            menu.addAction("Upgrade database…").triggered.connect(lambda: on_upgrade_db(self.project_id))
        # the window's own actions for this row (Edit…, Back up, Update…, Remove…), as in its context menu:
        # opening the menu selects the row, so they act on it and are enabled as they are for it
        if self._mirrored:
            menu.addSeparator()
        for action in self._mirrored:
            entry = menu.addAction(action.text())
            entry.triggered.connect(action.trigger)
            self._mirrors.append((entry, action))
        menu.aboutToShow.connect(self._menu_opening)
        menu.aboutToHide.connect(lambda: self.more.setDown(False))
        self._menu = menu
        return menu

    def _open_menu(self) -> None:
        """The ⋯ button was pressed: its menu pops up under it (as a tool button's instant popup does)."""
        self.more.setDown(True)
        self.more_menu().popup(self.more.mapToGlobal(QPoint(0, self.more.height())))

    def _menu_opening(self) -> None:
        if self._on_menu is not None:
            self._on_menu(self.project_id)
        for entry, action in self._mirrors:
            entry.setText(action.text())
            entry.setEnabled(action.isEnabled())

    def set_start_blocked(self, reason: str | None) -> None:
        """While the engine is known bad, Start is disabled with the reason as its tooltip."""
        if reason and self.startable:
            self.toggle.setEnabled(False)
            self.toggle.setToolTip(reason)


class RowControlsManager(QObject):
    """Puts RowControls on the visible rows of `table` (a view over `proxy`, which filters `model`) and keeps
    them in step with the rows."""

    def __init__(self, table: QTableView, proxy: QSortFilterProxyModel, model: ProjectTableModel,
                 on_toggle: Callable[[int], None], on_open: Callable[[int], None],
                 on_docs: Callable[[int], None], on_folder: Callable[[int], None], *,
                 on_upgrade_db: Callable[[int], None] | None = None, held: bool = False) -> None:
        """`held`: no controls until `release()` (the window's first paint shows the rows without them)."""
        super().__init__(table)
        self.held = held
        self._on_menu: Callable[[int], None] | None = None
        self._mirrored: tuple[QAction, ...] = ()
        self.table = table
        self.proxy = proxy
        self.model = model
        self._callbacks = (on_toggle, on_open, on_docs, on_folder)
        self._on_upgrade_db = on_upgrade_db
        self.start_blocked: str | None = None
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(0)
        self._pending.timeout.connect(self.fill_visible)
        table.verticalScrollBar().valueChanged.connect(lambda _v: self._pending.start())
        for signal in (proxy.modelReset, proxy.layoutChanged, proxy.rowsInserted, proxy.rowsRemoved):
            signal.connect(lambda *_a: self._pending.start())
        model.dataChanged.connect(self._data_changed)

    def mirror(self, actions: Sequence[QAction], on_menu: Callable[[int], None]) -> None:
        """The window's actions each row's ⋯ menu offers too; `on_menu(project_id)` as a menu opens."""
        self._mirrored, self._on_menu = tuple(actions), on_menu

    def schedule(self) -> None:
        self._pending.start()

    def release(self) -> None:
        """Put the controls on the visible rows from now on."""
        if self.held:
            self.held = False
            self.fill_visible()

    def visible_rows(self) -> range:
        count = self.proxy.rowCount()
        if count == 0:
            return range(0)
        viewport = self.table.viewport()
        first = self.table.rowAt(0)
        last = self.table.rowAt(viewport.height() - 1)
        first = 0 if first < 0 else first
        last = count - 1 if last < 0 else last
        return range(first, min(last + 2, count))

    def fill_visible(self) -> None:
        if self.held:
            return
        for prow in self.visible_rows():
            self._ensure(prow)

    def controls_for(self, project_id: int) -> RowControls | None:
        srow = self.model.row_of(project_id)
        if srow is None:
            return None
        index = self.proxy.mapFromSource(self.model.index(srow, Column.CONTROLS))
        if not index.isValid():
            return None
        widget = self.table.indexWidget(index)
        return widget if isinstance(widget, RowControls) else None

    def all_controls(self) -> list[RowControls]:
        return [w for w in self.table.viewport().findChildren(RowControls)]

    def _ensure(self, proxy_row: int) -> None:
        index = self.proxy.index(proxy_row, Column.CONTROLS)
        row = self.model.row_at(self.proxy.mapToSource(index).row())
        if row is None:
            return
        widget = self.table.indexWidget(index)
        if not isinstance(widget, RowControls) or widget.project_id != row.project_id:
            widget = RowControls(row.project_id, *self._callbacks, on_upgrade_db=self._on_upgrade_db,
                                 on_menu=self._on_menu, mirrored=self._mirrored)
            self.table.setIndexWidget(index, widget)
        widget.show_row(row)
        widget.set_start_blocked(self.start_blocked)

    def _data_changed(self, top: QModelIndex, bottom: QModelIndex, *_roles: object) -> None:
        for srow in range(top.row(), bottom.row() + 1):
            row = self.model.row_at(srow)
            if row is None:
                continue
            widget = self.controls_for(row.project_id)
            if widget is not None:
                widget.show_row(row)
                widget.set_start_blocked(self.start_blocked)

    def refresh_all(self) -> None:
        for widget in self.all_controls():
            row = self.model.row_for(widget.project_id)
            if row is not None:
                widget.show_row(row)
                widget.set_start_blocked(self.start_blocked)
