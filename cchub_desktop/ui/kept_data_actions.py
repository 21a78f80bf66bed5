"""The Storage tab's Delete… on kept data: it asks first, then the orchestrator deletes it in a job process;
the tab refreshes and the outcome is one line (status bar) or one box saying why nothing was deleted."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox

if TYPE_CHECKING:
    from cchub_desktop.ui.main_window import MainWindow

QUESTION = ("Delete {what}?\n\nIts engine volumes are emptied, and its passwords, host copies and logs deleted. "
            "No project can use this data afterwards. This cannot be undone.")


def ask_delete_kept(window: MainWindow, key: str, what: str) -> QMessageBox:
    """A window-modal question; Delete runs the deletion, anything else does nothing."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Delete kept data", QUESTION.format(what=what),
                      QMessageBox.StandardButton.Cancel, window)
    box.setObjectName("delete_kept_box")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)   # one question per click, none left behind
    delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)

    def answered(button: QAbstractButton) -> None:
        if button is delete:
            run_delete_kept(window, key, what)

    box.buttonClicked.connect(answered)
    box.open()
    return box


def run_delete_kept(window: MainWindow, key: str, what: str) -> None:
    window.storage.set_deleting(True)
    window.statusBar().showMessage(f"Deleting {what}…")
    task = window.bridge.run(window.orchestrator.delete_kept(key))
    task.add_done_callback(lambda t: _deleted(window, t))


def _deleted(window: MainWindow, task: asyncio.Task[str]) -> None:
    window.storage.set_deleting(False)
    window.statusBar().clearMessage()
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        window.show_error("The kept data was not deleted", getattr(error, "user_message", None) or str(error))
    else:
        window.statusBar().showMessage(task.result(), 20000)
    window.storage.show_kept(window.orchestrator.kept_data())
