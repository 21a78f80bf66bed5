"""What the app found wrong at launch and worked around, said once in a message box over the window: today a
damaged settings file (moved aside, defaults used) or settings values of the wrong type (settings.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cchub_desktop import APP_NAME
from cchub_desktop.ui.box_width import fit_title
from cchub_desktop.ui.main_window import MainWindow

logger = logging.getLogger(__name__)
SETTINGS_NOTICE = "settings_notice"
OPEN_SETTINGS = "Open Settings"


def show_settings_notices(window: MainWindow, notices: Sequence[str]) -> QMessageBox | None:
    """A non-blocking box with every notice, and a button that opens Settings; None when there is none."""
    if not notices:
        return None
    for notice in notices:
        logger.warning("%s", notice)
    box = QMessageBox(QMessageBox.Icon.Warning, f"{APP_NAME}: the settings", "\n\n".join(notices),
                      QMessageBox.StandardButton.Ok, window)
    box.setObjectName(SETTINGS_NOTICE)
    fit_title(box)
    box.setDefaultButton(QMessageBox.StandardButton.Ok)
    box.setEscapeButton(QMessageBox.StandardButton.Ok)  # with two buttons Qt picks none: closing would do nothing
    settings = box.addButton(OPEN_SETTINGS, QMessageBox.ButtonRole.ActionRole)
    settings.clicked.connect(window.settings_requested.emit)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    window.statusBar().showMessage("The settings file had a problem: see the message.", 30000)
    return box
