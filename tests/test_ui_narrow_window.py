"""At the window's minimum size a row's Start and Open buttons are in view, not behind a horizontal scrollbar:
Folder, then Ports, then Health step aside while the columns do not fit, and come back when there is room."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QAbstractButton

from cchub_desktop.ui.main_window import MIN_HEIGHT, MIN_WIDTH
from cchub_desktop.ui.project_table_model import Column

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger
    from pytestqt.qtbot import QtBot

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]


def in_view(hub: GuiHub, name: str) -> bool:
    """The button is visible and lies wholly inside the table's viewport."""
    viewport = hub.window.table.viewport()
    for button in hub.window.findChildren(QAbstractButton):
        if button.accessibleName() == name and button.isVisible():
            left = button.mapTo(viewport, button.rect().topLeft()).x()
            return left >= 0 and left + button.width() <= viewport.width()
    return False


def test_the_row_buttons_stay_in_view_at_the_minimum_size_and_the_columns_come_back(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    hub.add_project("Acme", project_dir)
    table = hub.window.table
    qtbot.waitUntil(lambda: in_view(hub, "Start Acme"))
    assert not any(table.isColumnHidden(c) for c in Column)          # room for everything at the usual size

    hub.window.resize(100, 100)                                         # as small as the window lets it get
    qtbot.waitUntil(lambda: hub.window.width() == MIN_WIDTH and hub.window.height() == MIN_HEIGHT)
    qtbot.waitUntil(lambda: table.isColumnHidden(Column.FOLDER))
    qtbot.waitUntil(lambda: in_view(hub, "Start Acme") and in_view(hub, "Open Acme in browser"))
    assert table.horizontalScrollBar().maximum() == 0                  # nothing to scroll to
    assert not table.isColumnHidden(Column.NAME) and not table.isColumnHidden(Column.STATUS)
    assert table.rowHeight(0) * 3 < table.viewport().height()          # more than a row and a half in view

    hub.window.resize(1080, 680)
    qtbot.waitUntil(lambda: not any(table.isColumnHidden(c) for c in Column))
    assert table.columnWidth(Column.FOLDER) == 190                     # back as it was
