"""The window's "Upgrade database…" action: says what the upgrade will do (or why there is nothing to do),
asks, runs it in the background (Orchestrator.upgrade_db) and says how it went. Boxes open without blocking."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.box_width import fit_title

if TYPE_CHECKING:
    from cchub_desktop.engine_jobs import JobReport
    from cchub_desktop.ui.main_window import MainWindow

CONFIRM = "upgrade_db_confirm"
INFO = "upgrade_db_info"
UPGRADE_BUTTON = "Upgrade"
UPGRADABLE = (ProjectStatus.STOPPED, ProjectStatus.ERROR)


def _box(window: MainWindow, icon: QMessageBox.Icon, title: str, text: str, name: str) -> QMessageBox:
    for old in window.findChildren(QMessageBox, name):
        old.close()
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, window)
    box.setObjectName(name)
    fit_title(box)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


def upgrade_selected(window: MainWindow) -> None:
    from cchub_desktop.stack.db_upgrade import NothingToUpgrade, plan_upgrade  # loaded when first used
    from cchub_desktop.stack.errors import StackError

    row = window.selected_row()
    if row is None:
        return
    name, project_id = row.project.name, row.project_id
    target = window.orchestrator.settings.postgres_image
    try:
        plan = plan_upgrade(row.project, window.orchestrator.state(project_id).value, target)
    except NothingToUpgrade as exc:
        info = _box(window, QMessageBox.Icon.Information, f"{name}: database upgrade", exc.user_message, INFO)
        info.addButton(QMessageBox.StandardButton.Ok)
        info.open()
        return
    except StackError as exc:
        window.show_error(f"{name}: the database cannot be upgraded", exc.user_message)
        return
    box = _box(window, QMessageBox.Icon.Question, f"Upgrade the database of {name}?", plan.describe(), CONFIRM)
    box.setInformativeText("The project cannot start until the upgrade is done. If a step fails, the project "
                           "keeps its old database, unchanged.")
    upgrade = box.addButton(UPGRADE_BUTTON, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    upgrade.clicked.connect(lambda: _run(window, project_id, name))
    box.open()


def _run(window: MainWindow, project_id: int, name: str) -> None:
    window.statusBar().showMessage(f"Upgrading the database of {name}… (the log pane shows each step)")
    task: asyncio.Task[JobReport] = window.bridge.run(window.orchestrator.upgrade_db(project_id))
    task.add_done_callback(lambda t: _done(window, name, t))


def _done(window: MainWindow, name: str, task: asyncio.Task[JobReport]) -> None:
    window.statusBar().clearMessage()
    if task.cancelled():
        return
    error = task.exception()
    window.reload()
    if error is not None:
        window.show_error(f"{name}: the database was not upgraded", str(error), in_log=getattr(error, "logged", False))
        return
    result = task.result()
    window.statusBar().showMessage(f"{name}: {result.headline}", 20000)
    info = _box(window, QMessageBox.Icon.Information, f"{name}: database upgraded", result.text, INFO)
    info.addButton(QMessageBox.StandardButton.Ok)
    info.open()
