"""Where the selected project's data lives: its volumes in the engine's cache (which the engine may prune), the
host copies the app keeps of them (the data's true copy: the last one, when, how big, or why the latest attempt
failed), the user's own backups, and its log files. Read from the app's folders on the host only: no engine
session, nothing heavy, so it shows at once. No asyncio here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cchub_desktop import host_copies
from cchub_desktop.log_names import links_to
from cchub_desktop.ui.project_table_model import ProjectRow

if TYPE_CHECKING:
    from cchub_desktop.kept_data import KeptData
    from cchub_desktop.paths import AppPaths
    from cchub_desktop.store.rows import StoredProject

COLUMNS = ("What", "Where", "How much / when")
KEPT_COLUMNS = ("Removed project / volume", "Kept since", "What is kept")
NO_KEPT = "Nothing kept: every volume and copy the app holds belongs to a listed project."
SHARED_NOTE = ("all projects' builds; no size: the engine reports none per volume. It may prune it when no stack "
               "runs: the next build downloads again, no data is lost")
NO_COPY_YET = "none yet: the first is written when the project first stops (and periodically while it runs)"


def when(moment: datetime) -> str:
    """'today 14:02', or '2026-12-03 14:02' for another day (local time)."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"today {local:%H:%M}" if local.date() == datetime.now().date() else f"{local:%Y-%m-%d %H:%M}"


def storage_rows(project: StoredProject, paths: AppPaths) -> list[tuple[str, str, str]]:
    """(what, where, how much / when) for each place the project's data is kept."""
    from cchub_desktop.stack.backup import list_backups
    from cchub_desktop.stack.db_image import pgdata_volume
    from cchub_desktop.stack.recipe import SHARED_CACHES
    from cchub_desktop.stack.upstream_fixes import rag_storage_volume

    key = project.data_key
    image = (f"{project.db_image} (PostgreSQL {project.db_major})" if project.db_image else
             "chosen at its first start")
    rows = [("Database", f"engine cache volume {project.db_volume or pgdata_volume(key)}", image),
            ("Redis data", f"engine cache volume cchub-{key}-redis", ""),
            ("rag_storage", f"engine cache volume {rag_storage_volume(key)}", "")]
    folder = host_copies.copies_dir(paths.data_dir, key)
    copies = host_copies.list_copies(folder)
    status = host_copies.read_status(folder)
    if copies:
        last = copies[0]
        copy_text = (f"last: copy {last.number}, {when(last.taken_at)} ({last.reason or 'copy'}), "
                     f"{host_copies.human_size(last.size)}; {len(copies)} kept")
    else:
        copy_text = NO_COPY_YET
    if status is not None and not status.ok:
        copy_text = f"the latest copy failed ({when(status.at)}): {status.message}; " + copy_text
    rows.append(("Host copies (the true copy)", str(folder), copy_text))
    backups = list_backups(paths.backups_dir, project.slug)
    rows.append(("Your backups", str(paths.backups_dir),
                 f"{len(backups)}, newest {backups[0].name}" if backups else "none"))
    named = links_to(paths, key)   # by-name/<slug>.log, once the project has written a log
    rows.append(("Logs", str(named[0] if named else paths.log_file(key)),
                 host_copies.human_size(paths.logs_size(key))))
    rows.extend((f"Shared cache: {what}", f"engine cache volume {volume}", SHARED_NOTE)
                for volume, what in SHARED_CACHES)
    return rows


class StoragePanel(QWidget):
    """The Storage tab: the rows above for the selected project, and buttons that open the folders."""

    open_folder = Signal(str)
    delete_kept = Signal(str, str)   # key, description: the user asked to delete that kept data

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("storage_panel")
        self._deleting: bool = False
        self._folders: tuple[str, str] = ("", "")
        self.title = QLabel("<b>Storage</b> — select a project")
        self.tree = QTreeWidget()
        self.tree.setObjectName("storage_tree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 300)
        self.tree.setColumnWidth(1, 380)
        self.tree.setMinimumHeight(40)   # the tab is never taller than the Log's at the smallest window
        self.open_copies = QPushButton("Open host copies folder")
        self.open_backups = QPushButton("Open backups folder")
        for button in (self.open_copies, self.open_backups):
            button.setEnabled(False)
        self.open_copies.clicked.connect(lambda: self.open_folder.emit(self._folders[0]))
        self.open_backups.clicked.connect(lambda: self.open_folder.emit(self._folders[1]))
        buttons = QHBoxLayout()
        buttons.addWidget(self.title, 1)
        buttons.addWidget(self.open_copies)
        buttons.addWidget(self.open_backups)
        project_part = QWidget()
        upper = QVBoxLayout(project_part)
        upper.setContentsMargins(0, 0, 0, 0)
        upper.addLayout(buttons)
        upper.addWidget(self.tree, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(project_part)
        splitter.addWidget(self._kept_part())
        splitter.setStretchFactor(0, 3)   # the selected project's rows first; kept data below, smaller
        splitter.setStretchFactor(1, 1)
        # in a pane lower than both lists need (the smallest window), the tab scrolls instead of taking
        # the project table's rows away
        scroll = QScrollArea()
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setWidget(splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(scroll, 1)

    def _kept_part(self) -> QWidget:
        """Kept data of removed projects, for all projects: listed with a Delete… that asks first."""
        part = QWidget()
        self.kept_title = QLabel("<b>Kept data of removed projects</b>")
        self.kept_tree = QTreeWidget()
        self.kept_tree.setObjectName("kept_tree")
        self.kept_tree.setColumnCount(len(KEPT_COLUMNS))
        self.kept_tree.setHeaderLabels(list(KEPT_COLUMNS))
        self.kept_tree.setRootIsDecorated(False)
        self.kept_tree.setColumnWidth(0, 300)
        self.kept_tree.setColumnWidth(1, 140)
        self.kept_tree.setMinimumHeight(40)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("delete_kept_button")
        self.delete_button.setEnabled(False)
        self.delete_button.setToolTip("Delete the selected kept data: its engine volumes, passwords, host copies "
                                      "and logs (asks first)")
        self.kept_tree.itemSelectionChanged.connect(
            lambda: self.delete_button.setEnabled(bool(self.kept_tree.selectedItems()) and not self._deleting))
        self.delete_button.clicked.connect(self._delete_selected)
        head = QHBoxLayout()
        head.addWidget(self.kept_title, 1)
        head.addWidget(self.delete_button)
        column = QVBoxLayout(part)
        column.setContentsMargins(0, 4, 0, 0)
        column.addLayout(head)
        column.addWidget(self.kept_tree, 1)
        return part

    def show_kept(self, items: list[KeptData]) -> None:
        """List the kept data (the selection kept when its item is still there)."""
        selected = self._selected_key()
        self.kept_tree.clear()
        if not items:
            placeholder = QTreeWidgetItem([NO_KEPT, "", ""])
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.kept_tree.addTopLevelItem(placeholder)
            placeholder.setFirstColumnSpanned(True)   # the whole sentence, not cut by the first column
        for item in items:
            first = item.name if item.kind != "old database volume" else f"{item.name}: {item.volumes[0]}"
            row = QTreeWidgetItem([first, when(item.since), item.contents()])
            row.setData(0, Qt.ItemDataRole.UserRole, (item.key, item.describe()))
            for column in range(len(KEPT_COLUMNS)):
                row.setToolTip(column, row.text(column))
            self.kept_tree.addTopLevelItem(row)
            if item.key == selected:
                row.setSelected(True)
        self.delete_button.setEnabled(bool(self.kept_tree.selectedItems()) and not self._deleting)

    def set_deleting(self, deleting: bool) -> None:
        """While a deletion runs, no second one starts (the button says so)."""
        self._deleting = deleting
        self.delete_button.setText("Deleting…" if deleting else "Delete…")
        self.delete_button.setEnabled(not deleting and bool(self.kept_tree.selectedItems()))

    def _selected_key(self) -> str | None:
        chosen = self.kept_tree.selectedItems()
        data = chosen[0].data(0, Qt.ItemDataRole.UserRole) if chosen else None
        return str(data[0]) if data else None

    def _delete_selected(self) -> None:
        chosen = self.kept_tree.selectedItems()
        data = chosen[0].data(0, Qt.ItemDataRole.UserRole) if chosen else None
        if data:
            self.delete_kept.emit(str(data[0]), str(data[1]))

    def kept_rows(self) -> list[tuple[str, str, str]]:
        items = (self.kept_tree.topLevelItem(i) for i in range(self.kept_tree.topLevelItemCount()))
        return [(item.text(0), item.text(1), item.text(2)) for item in items if item is not None]

    def show_row(self, row: ProjectRow | None, paths: AppPaths | None) -> None:
        """Show `row`'s project (nothing before the orchestrator attached: `paths` is None until then, and only
        then is the store imported, so the first paint costs nothing)."""
        if row is None or paths is None:
            self.tree.clear()
            self.title.setText("<b>Storage</b> — select a project" if row is None else
                               "<b>Storage</b> — loading the projects…")
            for button in (self.open_copies, self.open_backups):
                button.setEnabled(False)
            return
        project = row.project
        self.title.setText(f"<b>Storage</b> — where {project.name}'s data is kept")
        self.tree.clear()
        for what, where, detail in storage_rows(project, paths):
            item = QTreeWidgetItem([what, where, detail])
            for column, text in enumerate((what, where, detail)):
                item.setToolTip(column, text)
            self.tree.addTopLevelItem(item)
        folder = host_copies.copies_dir(paths.data_dir, project.data_key)
        self._folders = (str(folder), str(paths.backups_dir))
        self.open_copies.setEnabled(folder.is_dir())
        self.open_backups.setEnabled(paths.backups_dir.is_dir())

    def rows(self) -> list[tuple[str, str, str]]:
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [(item.text(0), item.text(1), item.text(2)) for item in items if item is not None]
