"""Wires the tray, notifications, close-to-tray, the settings dialog and single-instance hand-over into the app.

`DesktopIntegration(controller, instance)` attaches to the AppController (see app.py):
- the tray icon and its menu (ui/tray.py) and notifications through it (ui/notifications.py);
- closing the window hides it to the tray while a tray shows (told once, with "Don't show this again");
  without a tray the controller quits after the same confirmation as Quit;
- a second launch raises the window (and starts the projects it was given);
- a "Settings…" action in the window's toolbar and in the tray menu.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QMessageBox, QSystemTrayIcon

from cchub_desktop import APP_NAME
from cchub_desktop.store import StoreError
from cchub_desktop.ui.notifications import Notifier
from cchub_desktop.ui.single_instance import SingleInstance
from cchub_desktop.ui.tray import TrayIcon, tray_available

if TYPE_CHECKING:
    from cchub_desktop.app import AppController
    from cchub_desktop.engine_jobs import JobReport
    from cchub_desktop.ui.settings_dialog import SettingsDialog

logger = logging.getLogger(__name__)
CLOSE_HINT = (f"{APP_NAME} keeps running in the system tray, and so do your projects. Use Quit in the tray "
              "menu to stop every project and exit.")


class DesktopIntegration(QObject):
    def __init__(self, controller: AppController, instance: SingleInstance | None = None) -> None:
        super().__init__()
        self.controller = controller
        self.window = controller.window
        self.settings = controller.settings
        self.instance = instance
        self.hint_box: QMessageBox | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.tray = TrayIcon(controller.store, controller.bridge, show_window=self.show_window,
                             show_project=self.show_project, add_project=self.add_project,
                             open_settings=self.open_settings, quit=self.quit, backup=self.backup_project,
                             update_source=self.update_source, restart_service=self.restart_service)
        self.notifier = Notifier(controller.bridge, controller.store, controller.settings, self.tray.show_message)
        self.tray.icon.messageClicked.connect(self._message_clicked)
        self.window.model.modelReset.connect(self.tray.refresh)  # projects added, edited or removed
        self.settings_action = QAction("Settings…", self.window)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setToolTip("Notifications, start at login, Dagger engine, source and images (Ctrl+,)")
        self.settings_action.triggered.connect(self.open_settings)
        self.window.settings_requested.connect(self.open_settings)
        self.window.addAction(self.settings_action)
        toolbar = getattr(self.window, "toolbar", None)
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.settings_action)
        controller.hide_to_tray = self.hide_to_tray
        controller.has_tray = True
        controller.before_quit.append(self._quitting)
        if instance is not None:
            instance.activation_requested.connect(self.activate)
        self.tray.show()

    # ----- window -----------------------------------------------------------------------------------------

    def show_at_launch(self) -> None:
        """The first window at launch: hidden in the tray, or minimized without one, when the user asked."""
        if not self.settings.start_minimized:
            self.show_window()
        elif tray_available():
            logger.info("started minimized to the tray")
        else:
            self.window.showMinimized()

    def show_window(self) -> None:
        state = self.window.windowState() & ~Qt.WindowState.WindowMinimized
        self.window.setWindowState(state | Qt.WindowState.WindowActive)
        self.controller.show_window()

    def show_project(self, project_id: int) -> None:
        self.show_window()
        self.window.select_project(project_id)

    def add_project(self) -> None:
        self.show_window()
        self.window.add_project()

    def activate(self, start: Sequence[str] = ()) -> None:
        """Another launch asked for the window (and maybe to start projects)."""
        self.show_window()
        logger.info("window raised for another launch")
        if start:
            self.controller.start_projects(list(start))

    def hide_to_tray(self) -> bool:
        """The window's close button: hide while a tray shows (True); False lets the app quit instead."""
        if not tray_available():
            return False
        self.window.hide()
        if not self.settings.close_to_tray_hint_shown:
            self._show_close_hint()
        return True

    def _show_close_hint(self) -> None:
        if self.hint_box is not None:
            self.hint_box.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Information, APP_NAME, CLOSE_HINT, QMessageBox.StandardButton.Ok)
        box.setObjectName("close_to_tray_hint")
        again = QCheckBox("Don't show this again")
        again.setChecked(True)
        box.setCheckBox(again)
        box.finished.connect(lambda _r: self._hint_closed(again.isChecked()))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.hint_box = box
        box.open()

    def _hint_closed(self, dont_show_again: bool) -> None:
        self.hint_box = None
        if dont_show_again and not self.settings.close_to_tray_hint_shown:
            self.settings.close_to_tray_hint_shown = True
            try:
                self.settings.save(self.controller.paths.settings_file)
            except OSError as exc:
                logger.warning("could not save the settings: %s", exc)

    # ----- database backup ----------------------------------------------------------------------------------

    def backup_project(self, project_id: int) -> None:
        """The tray's "Back up database": runs in the background; a notification says where the dump went
        (or why there is none)."""
        task: asyncio.Task[Path] = self.controller.bridge.run(self.controller.orchestrator.backup(project_id))
        task.add_done_callback(lambda t: self._backup_done(project_id, t))

    def _name_of(self, project_id: int) -> str:
        """The project's name for a notification ("The project" once it is gone)."""
        try:
            return self.controller.store.row(project_id).name
        except (KeyError, StoreError):
            return "The project"

    def _backup_done(self, project_id: int, task: asyncio.Task[Path]) -> None:
        if task.cancelled():
            return
        name = self._name_of(project_id)
        error = task.exception()
        self.notifier.last_project_id = project_id  # a click on this message shows this project, not the last one
        if error is None:
            self.tray.show_message(f"{name}: database backed up", f"Saved to {task.result()}",
                                   QSystemTrayIcon.MessageIcon.Information)
        else:
            self.tray.show_message(f"{name}: backup failed", str(error), QSystemTrayIcon.MessageIcon.Critical)

    def restart_service(self, project_id: int, service: str) -> None:
        """The tray's "Restart service ▸ NAME": a notification says it was done (or why not)."""
        task = self.controller.bridge.run(self.controller.orchestrator.restart_service(project_id, service))
        task.add_done_callback(lambda t: self._restart_done(project_id, service, t))

    def _restart_done(self, project_id: int, service: str, task: asyncio.Task[str]) -> None:
        if task.cancelled():
            return
        name = self._name_of(project_id)
        self.notifier.last_project_id = project_id
        error = task.exception()
        if error is None:
            self.tray.show_message(f"{name}: {service} restarted", task.result(),
                                   QSystemTrayIcon.MessageIcon.Information)
        else:
            self.tray.show_message(f"{name}: {service} not restarted", getattr(error, "user_message", None)
                                   or str(error), QSystemTrayIcon.MessageIcon.Critical)

    def update_source(self, project_id: int) -> None:
        """The tray's "Update CommandCenter": a notification says old → new (or why not)."""
        task = self.controller.bridge.run(self.controller.orchestrator.update_source(project_id))
        task.add_done_callback(lambda t: self._update_done(project_id, t))

    def _update_done(self, project_id: int, task: asyncio.Task[JobReport]) -> None:
        if task.cancelled():
            return
        self.notifier.last_project_id = project_id
        error = task.exception()
        if error is None:
            self.tray.show_message("CommandCenter update", task.result().headline,
                                   QSystemTrayIcon.MessageIcon.Information)
            self.window.reload()
        else:
            self.tray.show_message("CommandCenter update failed", str(error), QSystemTrayIcon.MessageIcon.Critical)

    # ----- settings -----------------------------------------------------------------------------------------

    def open_settings(self) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.show()
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return
        parent = self.window if self.window.isVisible() else None
        from cchub_desktop.ui.settings_dialog import SettingsDialog  # its form and rules: when first opened

        dialog = SettingsDialog(self.settings, self.controller.paths.settings_file, parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "settings_dialog", None))
        dialog.saved.connect(lambda _s: self.window.settings_changed())
        self.settings_dialog = dialog
        dialog.open()

    # ----- quitting -----------------------------------------------------------------------------------------

    def quit(self) -> None:
        self.controller.request_quit(confirm=True)

    def _message_clicked(self) -> None:
        pid = self.notifier.last_project_id
        if pid is not None:
            self.show_project(pid)
        else:
            self.show_window()

    def _quitting(self) -> None:
        self.notifier.quitting = True
        self.tray.set_quitting()

    def close(self) -> None:
        """At the very end of quitting: remove the icon, hand the single-instance lock back."""
        self.tray.hide()
        if self.instance is not None:
            self.instance.release()
