"""The app as a launch builds it (AppController + tray, notifications, close-to-tray) on the fake engine.

A test module takes the fixtures by name: ``desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, ...``.
``desktop`` has a tray (``tray_available`` answers True) until the test calls ``desktop.set_tray(False)``;
every ``showMessage`` call is recorded in ``desktop.messages`` (and not shown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_dagger.fixtures import FakeDagger, fake_dagger_env, free_port_block
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.app import AppController
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus, ProjectStore
from cchub_desktop.ui import tray as tray_module
from cchub_desktop.ui import tray_integration
from cchub_desktop.ui.tray_integration import DesktopIntegration
from tests.gui_fixtures import QtAsync, qt_async

__all__ = ["Desktop", "desktop", "fake_dagger_env", "qt_async"]


@dataclass
class Desktop:
    controller: AppController
    integration: DesktopIntegration
    aio: QtAsync
    qtbot: QtBot
    fake: FakeDagger
    tmp_path: Path
    tray_shown: list[bool]
    messages: list[tuple[str, str, Any, int]] = field(default_factory=list)
    ports: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def tray(self) -> tray_module.TrayIcon:
        return self.integration.tray

    @property
    def window(self) -> Any:
        return self.controller.window

    @property
    def store(self) -> ProjectStore:
        return self.controller.store

    @property
    def settings(self) -> AppSettings:
        return self.controller.settings

    def set_tray(self, available: bool) -> None:
        self.tray_shown[0] = available

    def add_project(self, name: str) -> int:
        folder = self.tmp_path / "projects" / name
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"{name}\n")
        block = free_port_block()
        project = self.store.add(name, folder, backend_port=block.backend, frontend_port=block.frontend,
                                 postgres_port=block.postgres, redis_port=block.redis)
        assert project.id is not None
        self.ports[project.id] = block.as_dict()
        self.window.reload(select_id=project.id)
        return project.id

    def status(self, project_id: int) -> ProjectStatus:
        return self.controller.orchestrator.state(project_id)

    def wait_status(self, project_id: int, status: ProjectStatus, timeout: float = 30.0) -> None:
        self.qtbot.waitUntil(lambda: self.status(project_id) == status, timeout=int(timeout * 1000))

    def ports_free(self, project_id: int) -> bool:
        return all(ports.is_port_free(p) for p in self.ports[project_id].values())

    # ----- the menu as a user sees it ---------------------------------------------------------------------

    def open_menu(self) -> QMenu:
        """What opening the menu does: aboutToShow rebuilds it from the current state."""
        self.tray.menu.aboutToShow.emit()
        return self.tray.menu

    def menu_texts(self, menu: QMenu | None = None) -> list[str]:
        menu = menu or self.open_menu()
        return [a.text() for a in menu.actions() if not a.isSeparator()]

    def action(self, *path: str) -> QAction:
        """The action reached by following menu texts from the top (submenus by their title)."""
        menu: QMenu | None = self.open_menu()
        action: QAction | None = None
        for text in path:
            assert menu is not None, f"{action.text() if action else ''!r} has no submenu"
            found = [a for a in menu.actions() if a.text() == text]
            assert found, f"no {text!r} in {[a.text() for a in menu.actions()]}"
            action = found[0]
            menu = action.menu() if isinstance(action.menu(), QMenu) else None
            if menu is not None:
                menu.aboutToShow.emit()   # the user opens it: a project's submenu is filled as it opens
        assert action is not None
        return action

    def submenu(self, *path: str) -> QMenu:
        sub = self.action(*path).menu()
        assert isinstance(sub, QMenu)
        return sub

    def click(self, *path: str) -> None:
        action = self.action(*path)
        assert action.isEnabled(), f"{path} is disabled"
        action.trigger()

    def label(self, name: str) -> str:
        """The menu line of a project ("alpha — Running")."""
        for text in self.menu_texts():
            if text.startswith(f"{name} — "):
                return text
        raise AssertionError(f"no line for {name} in {self.menu_texts()}")


def find_box(name: str) -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == name and widget.isVisible():
            return widget
    return None


def top_level(name: str) -> QWidget | None:
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == name and widget.isVisible():
            return widget
    return None


@pytest.fixture
def desktop(qt_async: QtAsync, qtbot: QtBot, qapp: QApplication, cchub_home: Path,
            fake_dagger_env: FakeDagger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    shown = [True]
    monkeypatch.setattr(tray_module, "tray_available", lambda: shown[0])
    monkeypatch.setattr(tray_integration, "tray_available", lambda: shown[0])
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    settings = AppSettings.load(paths.settings_file)
    controller = AppController(qapp, paths, store, settings)
    integration = DesktopIntegration(controller, None)
    hub = Desktop(controller, integration, qt_async, qtbot, fake_dagger_env, tmp_path, shown)
    monkeypatch.setattr(integration.tray.icon, "showMessage",
                        lambda title, text, icon, ms: hub.messages.append((title, text, icon, ms)))
    integration.show_at_launch()
    try:
        yield hub
    finally:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox | QMenu) and widget.isVisible():
                with contextlib.suppress(RuntimeError):
                    widget.close()
        qt_async.wait(controller.begin_quit(0), timeout=60)
        qt_async.run(controller.wait_done(), timeout=10)
        integration.close()
        controller.bridge.detach()
        store.close()
