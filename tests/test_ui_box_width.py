"""Message boxes are as wide as their titles: a short message under a long title no longer gets a narrow box
whose title the window manager cuts in the middle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from cchub_desktop.ui.box_width import TITLE_BAR_EXTRA, fit_title, shown_title, title_width

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger
    from pytestqt.qtbot import QtBot

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]
TITLE = "acme-research: the database was not upgraded"


def bold_width(text: str) -> int:
    """The title bar's text: the title and, on Linux desktops, " — " and the app's name after it."""
    font = QGuiApplication.font()
    font.setBold(True)
    return QFontMetrics(font).horizontalAdvance(shown_title(text))


def test_a_message_box_is_as_wide_as_its_title(qtbot: QtBot) -> None:
    before = QGuiApplication.applicationDisplayName()
    QGuiApplication.setApplicationDisplayName("CommandCenter Hub")   # as the app sets it: the title bar adds it
    try:
        plain = QMessageBox(QMessageBox.Icon.Warning, TITLE, "Stop it first.")
        fitted = fit_title(QMessageBox(QMessageBox.Icon.Warning, TITLE, "Stop it first."))
        for box in (plain, fitted):
            qtbot.addWidget(box)
            box.show()
        qtbot.waitUntil(lambda: plain.isVisible() and fitted.isVisible())
        assert title_width(TITLE) == bold_width(TITLE) + TITLE_BAR_EXTRA   # not capped by this screen
        assert plain.width() < bold_width(TITLE) + TITLE_BAR_EXTRA       # what the window manager had to cut
        assert fitted.width() >= bold_width(TITLE) + TITLE_BAR_EXTRA
        assert fitted.height() <= plain.height() + 2                     # wider, not taller
    finally:
        QGuiApplication.setApplicationDisplayName(before)


def test_the_windows_error_box_fits_its_title(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger) -> None:
    gui_hub.window.show_error(TITLE, "Stop it first.")
    box = gui_hub.window.error_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert box.width() >= title_width(TITLE) >= bold_width(TITLE)
    box.close()
