"""AppController: closing the window quits (asking first when stacks run), and quitting stops every stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.app import AppController
from cchub_desktop.lease import owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings, load_settings
from cchub_desktop.store import ProjectStatus, ProjectStore

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import QtAsync

pytest_plugins = ["tests.gui_fixtures"]


@pytest.fixture
def controller(qt_async: QtAsync, qapp: QApplication, fake_dagger_env: FakeDagger) -> Iterator[AppController]:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    ctl = AppController(qapp, paths, store, AppSettings())
    ctl.show_window()
    try:
        yield ctl
    finally:
        qt_async.run(ctl.orchestrator.aclose(), timeout=60)
        ctl.window.intercept_close = False
        ctl.window.close()
        ctl.window.deleteLater()
        store.close()


def add(ctl: AppController, name: str, folder: Path) -> int:
    from fake_dagger.fixtures import free_port_block

    b = free_port_block()
    project = ctl.store.add(name, folder, backend_port=b.backend, frontend_port=b.frontend,
                            postgres_port=b.postgres, redis_port=b.redis)
    assert project.id is not None
    ctl.window.reload(select_id=project.id)
    return project.id


def test_closing_the_window_with_nothing_running_quits(controller: AppController, qt_async: QtAsync) -> None:
    controller.window.close()
    assert qt_async.run(controller.wait_done(), timeout=10) == 0
    assert not controller.window.isVisible()


def test_closing_the_window_while_a_stack_runs_asks_then_stops_it(
        controller: AppController, qt_async: QtAsync, qtbot: QtBot, project_dir: Path,
        fake_dagger_env: FakeDagger) -> None:
    pid = add(controller, "alpha", project_dir)
    project = controller.store.get(pid)
    controller.bridge.start(pid)
    qtbot.waitUntil(lambda: controller.orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)

    controller.window.close()
    box = controller.window.findChild(QMessageBox, "quit_confirm")
    assert box is not None and box.isVisible() and "1 project running" in box.text()
    assert controller.window.isVisible()  # nothing happens before the answer
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    cancel.click()
    qtbot.waitUntil(lambda: controller.window.findChild(QMessageBox, "quit_confirm") is None
                    or not box.isVisible(), timeout=2000)
    assert controller.orchestrator.state(pid) == ProjectStatus.RUNNING and controller.window.isVisible()

    controller.window.close()
    box = controller.window.findChild(QMessageBox, "quit_confirm")
    assert box is not None
    stop_and_quit = next(b for b in box.buttons() if b.text() == "Stop and quit")
    stop_and_quit.click()
    assert qt_async.run(controller.wait_done(), timeout=60) == 0
    # the runner stopped the stack and recorded it, and ended (its lease is free)
    qtbot.waitUntil(lambda: owner_of(controller.paths.runtime_dir, project.data_key) is None, timeout=60_000)
    assert controller.store.get(pid).status == ProjectStatus.STOPPED.value
    assert ports.is_port_free(project.frontend_port)
    fake_dagger_env.sessions_exited(timeout=10)
    assert controller.settings.on_quit == "stop"   # asked once: the answer is kept
    assert load_settings(controller.paths.settings_file).settings.on_quit == "stop"


def test_quit_leaving_the_stacks_running_and_the_next_window_shows_and_stops_them(
        controller: AppController, qt_async: QtAsync, qtbot: QtBot, project_dir: Path,
        qapp: QApplication, fake_dagger_env: FakeDagger) -> None:
    pid = add(controller, "alpha", project_dir)
    project = controller.store.get(pid)
    controller.bridge.start(pid)
    qtbot.waitUntil(lambda: controller.orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)
    controller.window.close()
    box = controller.window.findChild(QMessageBox, "quit_confirm")
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Leave running and quit").click()
    assert qt_async.run(controller.wait_done(), timeout=60) == 0
    assert not controller.window.isVisible()
    owner = owner_of(controller.paths.runtime_dir, project.data_key)
    assert owner is not None and owner.state == "running"   # its runner runs on, with no window
    assert ports.find_conflicts({"frontend": project.frontend_port}) != []

    settings = load_settings(controller.paths.settings_file).settings
    assert settings.on_quit == "leave"
    second = AppController(qapp, controller.paths, controller.store, settings)
    try:
        assert second.orchestrator.state(pid) == ProjectStatus.RUNNING
        row = next(r for r in second.window.model.rows() if r.project.id == pid)
        assert row.status == ProjectStatus.RUNNING
        second.request_quit()   # remembered: no question this time, and the runner is left running
        assert second.window.findChild(QMessageBox, "quit_confirm") is None
        assert qt_async.run(second.wait_done(), timeout=60) == 0
        assert owner_of(controller.paths.runtime_dir, project.data_key) is not None
    finally:
        second.window.deleteLater()
    third = AppController(qapp, controller.paths, controller.store, AppSettings())
    try:
        qt_async.run(third.orchestrator.stop(pid), timeout=60)
        assert third.orchestrator.state(pid) == ProjectStatus.STOPPED
        qt_async.run(third.orchestrator.aclose(), timeout=60)
    finally:
        third.window.intercept_close = False
        third.window.close()
        third.window.deleteLater()
    assert owner_of(controller.paths.runtime_dir, project.data_key) is None
    assert ports.is_port_free(project.frontend_port)
    fake_dagger_env.sessions_exited(timeout=10)
