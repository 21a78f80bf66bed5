"""The main window against the real orchestrator, the real CommandCenterStack and the fake Dagger engine."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QSplitter
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.store import ProjectStatus

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]

START_TIMEOUT = 60_000  # ms; a start against the fake engine takes a second or two


def http_get(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return int(response.status)


def status_of(hub: GuiHub, project_id: int) -> ProjectStatus | None:
    row = hub.window.model.row_for(project_id)
    return row.status if row else None


def wait_status(hub: GuiHub, project_id: int, status: ProjectStatus, timeout: int = START_TIMEOUT) -> None:
    """Wait for the row to show `status`; on timeout say where the start was and what the log says."""
    try:
        hub.qtbot.waitUntil(lambda: status_of(hub, project_id) == status, timeout=timeout)
    except Exception as exc:
        log = hub.orchestrator.log(project_id).text()[-2500:]
        raise AssertionError(f"project {project_id} is {status_of(hub, project_id)} "
                             f"(phase {hub.orchestrator.phase(project_id)}), not {status}; log:\n{log}") from exc


def row_text(hub: GuiHub, project_id: int, column: int) -> str:
    row = hub.window.model.row_of(project_id)
    assert row is not None
    return str(hub.window.model.index(row, column).data())


def add_through_dialog(hub: GuiHub, qtbot: QtBot, name: str, folder: Path,
                       monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    qtbot.keyClick(hub.window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = hub.window.project_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.name_edit, name)
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    block = hub.next_ports()
    for field, value in block.as_dict().items():
        dialog.port_spins[f"{field}_port"].setValue(value)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hub.window.project_dialog is None, timeout=2000)
    project = hub.store.get_by_name(name)
    assert project.id is not None
    return project.id


def test_add_start_open_stop_from_the_window(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                             project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = gui_hub
    pid = add_through_dialog(hub, qtbot, "Acme", project_dir, monkeypatch)
    project = hub.store.get(pid)
    assert hub.window.selected_id() == pid
    assert not hub.window.open_action.isEnabled()

    qtbot.keyClick(hub.window.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STARTING, timeout=2000)
    wait_status(hub, pid, ProjectStatus.RUNNING)
    assert row_text(hub, pid, 2) == "Running"
    assert http_get(project.frontend_port) == 200
    assert hub.window.toggle_action.text() == "Stop" and hub.window.open_action.isEnabled()
    qtbot.waitUntil(lambda: "is running at" in hub.window.log_view.shown_text(), timeout=2000)

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    hub.window.activateWindow()
    qtbot.waitUntil(hub.window.isActiveWindow, timeout=2000)
    qtbot.keyClick(hub.window.table, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert [u.toString() for u in opened] == [f"http://localhost:{project.frontend_port}"]
    # no browser to start (seen on a machine with none: Open did nothing visible): said, address copied
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    qtbot.keyClick(hub.window.table, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    box = hub.window.error_box
    assert box is not None and box.isVisible()
    assert box.windowTitle() == "Acme could not be opened in a browser"
    assert f"No web browser could be started for http://localhost:{project.frontend_port}" in box.text()
    assert QGuiApplication.clipboard().text() == f"http://localhost:{project.frontend_port}"
    box.close()

    qtbot.mouseClick(hub.window.toolbar.widgetForAction(hub.window.toggle_action), Qt.MouseButton.LeftButton)
    wait_status(hub, pid, ProjectStatus.STOPPED)
    assert ports.is_port_free(project.frontend_port) and ports.is_port_free(project.backend_port)
    hub.aio.run(hub.orchestrator.flush())
    assert hub.store.get(pid).status == "stopped"
    assert not hub.window.open_action.isEnabled()
    fake_dagger_env.sessions_exited(timeout=10)


def test_two_projects_start_at_once(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                    project_dir: Path, tmp_path: Path) -> None:
    hub = gui_hub
    other = tmp_path / "other"
    other.mkdir()
    a, b = hub.add_project("alpha", project_dir), hub.add_project("beta", other)
    for pid in (a, b):
        hub.window.select_project(pid)
        hub.window.toggle_action.trigger()
    assert status_of(hub, a) == status_of(hub, b) == ProjectStatus.STARTING  # both at once, at the click
    wait_status(hub, a, ProjectStatus.RUNNING)
    wait_status(hub, b, ProjectStatus.RUNNING)
    for pid in (a, b):
        assert http_get(hub.store.get(pid).frontend_port) == 200
    sessions = fake_dagger_env.journal.sessions()
    assert len(sessions) == 2
    hub.aio.run(hub.orchestrator.stop_all(), timeout=60)
    assert status_of(hub, a) == status_of(hub, b) == ProjectStatus.STOPPED
    fake_dagger_env.sessions_exited(timeout=10)


def test_a_failing_start_shows_the_error_and_leaves_nothing_running(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    fake_dagger_env.set(exec_fail="pip install:1:ERROR: No matching distribution found for fastapi==0.0.1")
    pid = hub.add_project("broken", project_dir)
    project = hub.store.get(pid)
    hub.window.toggle_action.trigger()
    wait_status(hub, pid, ProjectStatus.ERROR)
    health = row_text(hub, pid, 4)
    assert health.endswith("exited with code 1.")            # the first line; the strip has the output too
    assert "No matching distribution" in hub.window.detail.failure.text()
    box = hub.window.error_box
    assert box is not None and box.isVisible()
    assert "No matching distribution" in box.text() and "broken" in box.windowTitle()
    hub.aio.run(hub.orchestrator.flush())
    assert hub.store.get(pid).last_error == hub.orchestrator.message(pid)
    assert "ExecError" in hub.orchestrator.log(pid).text()  # the technical detail is in the log
    assert hub.window.toggle_action.text() == "Start"  # retry is one click away
    fake_dagger_env.sessions_exited(timeout=10)
    assert fake_dagger_env.journal.running_services() == []
    assert fake_dagger_env.journal.open_tunnels() == []
    assert ports.is_port_free(project.frontend_port) and ports.is_port_free(project.backend_port)


def test_double_clicking_start_starts_one_stack(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                                project_dir: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("once", project_dir)
    button = hub.window.toolbar.widgetForAction(hub.window.toggle_action)
    qtbot.mouseDClick(button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(hub.window.table, Qt.Key.Key_Return)  # and an impatient Enter on top
    wait_status(hub, pid, ProjectStatus.RUNNING)
    assert len(fake_dagger_env.journal.sessions()) == 1
    hub.aio.run(hub.orchestrator.stop(pid), timeout=60)
    fake_dagger_env.sessions_exited(timeout=10)
    assert len(fake_dagger_env.journal.sessions()) == 1


def test_a_new_window_gives_the_log_its_share_not_its_minimum(gui_hub: GuiHub, qtbot: QtBot,
                                                               fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    """At the window's usual size the log shows a screenful of lines (the lower pane 2/5 of the split), not the
    two lines its minimum holds."""
    window = gui_hub.window
    gui_hub.add_project("Acme", project_dir)
    window.resize(1080, 680)
    text = window.log_view.text
    qtbot.waitUntil(lambda: text.isVisible() and window.bottom_tabs.height() > 0)
    splitter = window.bottom_tabs.parentWidget()
    assert isinstance(splitter, QSplitter)
    top, bottom = splitter.sizes()
    assert bottom >= 0.35 * (top + bottom), (top, bottom)
    assert text.viewport().height() >= 8 * text.fontMetrics().lineSpacing()
