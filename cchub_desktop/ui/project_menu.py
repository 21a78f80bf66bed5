"""The project table's context menu: every project action, and the bulk ones when several rows are selected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from cchub_desktop.ui.main_window import MainWindow


def build_project_menu(window: MainWindow, selected: int) -> QMenu:
    """A menu of the window's actions (already enabled for the selection by the window)."""
    menu = QMenu(window.table)
    menu.setObjectName("project_context_menu")
    if selected > 1:
        for action in (window.start_many_action, window.stop_many_action, window.backup_many_action):
            menu.addAction(action)
        menu.addSeparator()
    for action in (window.toggle_action, window.restart_action, window.open_action, window.docs_action,
                   window.folder_action):
        menu.addAction(action)
    menu.addSeparator()
    for action in (window.edit_action, window.backup_action, window.update_source_action, window.upgrade_db_action,
                   window.remove_action):
        menu.addAction(action)
    menu.addSeparator()
    menu.addAction(window.add_action)
    return menu
