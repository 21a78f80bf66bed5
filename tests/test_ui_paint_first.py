"""Paint first: the window shows its rows before SQLModel, SQLAlchemy, pydantic or the Dagger SDK is imported, and
what the user does in the moment before the orchestrator is attached is not lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fake_dagger.fixtures import free_port_block
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cchub_desktop.app import AppController
from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus, ProjectStore
from cchub_desktop.store.rows import read_projects
from cchub_desktop.ui.bridge import OrchestratorBridge
from cchub_desktop.ui.first_window import EarlyWindow, paint_first
from cchub_desktop.ui.main_window import MainWindow
from cchub_desktop.ui.single_instance import SingleInstance
from cchub_desktop.ui.window_actions import LOADING
from tests.helpers import closed_port_url

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import QtAsync

pytest_plugins = ["tests.gui_fixtures"]

PROBE = Path(__file__).with_name("paint_probe.py")
IDLE_PROBE = Path(__file__).with_name("idle_probe.py")
HEAVY = ("sqlmodel", "sqlalchemy", "pydantic", "pydantic_core", "dagger")
LATER_PARTS = ("cchub_desktop.ui.log_view", "cchub_desktop.ui.services_panel", "cchub_desktop.ui.storage_panel",
               "cchub_desktop.stack.source_pin")
STACK_PARTS = ("cchub_desktop.stack.stack", "cchub_desktop.stack.config", "cchub_desktop.stack.project_secrets",
               "cchub_desktop.stack.secrets_store", "cchub_desktop.project_data")


def seed(count: int, folders: Path) -> ProjectStore:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    for i in range(count):
        folder = folders / f"p{i}"
        folder.mkdir(parents=True)
        b = free_port_block()
        store.add(f"Project {i}", folder, backend_port=b.backend, frontend_port=b.frontend,
                  postgres_port=b.postgres, redis_port=b.redis)
    return store


def test_the_window_paints_its_rows_before_any_heavy_module_is_imported(cchub_home: Path, tmp_path: Path) -> None:
    seed(3, tmp_path).close()
    env = dict(os.environ, CCHUB_HOME=str(cchub_home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, str(PROBE), "--no-engine-check"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the probe saw no first paint:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    at_paint = {m.split(".")[0] for m in report["modules_at_paint"]}
    assert not at_paint & set(HEAVY), f"imported before the first paint: {sorted(at_paint & set(HEAVY))}"
    assert report["rows_at_paint"] == 3  # the first paint shows the projects, not an empty table
    # ... with what the table needs: the log pane and the rows' buttons come right after the paint
    assert not set(LATER_PARTS) & set(report["modules_at_paint"]), \
        f"imported before the first paint: {sorted(set(LATER_PARTS) & set(report['modules_at_paint']))}"
    tabs = ["Log", "Services", "Storage"]   # the pane's place and titles are there at once, its pages come later
    assert report["window_at_paint"] == {"tabs": tabs, "log_pane": False, "row_buttons": 0}
    assert report["window_later"] == {"tabs": tabs, "log_pane": True, "row_buttons": 3}
    assert not {"asyncio", "cchub_desktop.stack.doctor", "cchub_desktop.stack.stack"} & set(report["modules_at_paint"])
    # then the store and the orchestrator are attached (the probe does see imports), still without the ORM
    assert "cchub_desktop.orchestrator" in report["modules_later"]
    later = {m.split(".")[0] for m in report["modules_later"]}
    assert not later & set(HEAVY), f"imported by the attached window: {sorted(later & set(HEAVY))}"


def test_the_idle_window_holds_no_orm_and_adding_a_project_from_it_loads_it(cchub_home: Path,
                                                                            tmp_path: Path) -> None:
    """SQLAlchemy, SQLModel and pydantic (~30 MB) are not in an idle window; the first write loads them."""
    seed(2, tmp_path).close()
    folder = tmp_path / "new project"
    folder.mkdir()
    env = dict(os.environ, CCHUB_HOME=str(cchub_home), QT_QPA_PLATFORM="offscreen")
    # no Dagger CLI anywhere and no network: the engine check takes its download-check path (httpx, OpenSSL)
    env.pop("_EXPERIMENTAL_DAGGER_CLI_BIN", None)
    (tmp_path / "empty-bin").mkdir()
    env.update(PATH=str(tmp_path / "empty-bin"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               HTTPS_PROXY=(dead := closed_port_url()), https_proxy=dead)
    proc = subprocess.run([sys.executable, str(IDLE_PROBE), str(folder)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the probe reported nothing:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    idle = {m.split(".")[0] for m in report["idle"]}
    assert "cchub_desktop.orchestrator" in report["idle"]   # attached: the window is the app's, fully
    assert not idle & set(HEAVY), f"imported by the idle window: {sorted(idle & set(HEAVY))}"
    if sys.platform != "win32":   # the single instance is a stdlib socket there: no QtNetwork (~2.8 MB)
        assert "PySide6.QtNetwork" not in report["idle"]
    # no OpenSSL (~4.9 MB, cchub_desktop/openssl_free.py) and no stack (its runner's part) in the idle window
    assert not {"ssl", "_hashlib"} & set(report["idle"]), sorted({"ssl", "_hashlib"} & set(report["idle"]))
    if sys.platform.startswith("linux"):   # what is mapped is read from /proc there
        assert report["openssl_idle"] == []
    assert not set(STACK_PARTS) & set(report["idle"]), sorted(set(STACK_PARTS) & set(report["idle"]))
    # the engine check ran in a `cchub doctor` of its own (engine_check.py): its verdict is on the engine line,
    # and neither the doctor nor httpx and OpenSSL (its download check without a Dagger CLI) came into the window
    assert report["engine_line"].startswith("Engine problem: The Dagger CLI v"), report["engine_line"]
    assert "cannot be downloaded" in report["engine_line"]
    after_check = set(report["after_engine_check"])
    assert not {"cchub_desktop.stack.doctor", "httpx", "ssl", "_hashlib"} & after_check, sorted(
        {"cchub_desktop.stack.doctor", "httpx", "ssl", "_hashlib"} & after_check)
    # what an idle window does without until it is used: the settings form, the log's search marks (and
    # PySide6's QTextFormat enums with them), the kept data (and the host copies' code)
    assert not {"cchub_desktop.ui.settings_dialog", "cchub_desktop.ui.match_highlighter",
                "cchub_desktop.kept_data", "cchub_desktop.host_copies"} & after_check
    if sys.platform.startswith("linux"):
        # asyncio.to_thread's pool starts threads as work needs them: not qasync's ten at the first call
        assert "_QThreadWorker" not in report["threads"] and len(report["threads"]) <= 6, report["threads"]
    assert report["added"] == "Added while idle", report["error"]
    assert (report["rows_before"], report["rows_after"]) == (2, 3)   # the table shows it
    assert {"sqlmodel", "sqlalchemy", "pydantic"} <= {m.split(".")[0] for m in report["after_add"]}
    store = ProjectStore(app_paths().db_file)
    try:
        added = store.get_by_name("Added while idle")
        assert added.path == str(folder)
        assert store.row_named("added while idle") == store.rows()[0]   # the quick read sees what was written
    finally:
        store.close()


@pytest.fixture
def early_window(qt_async: QtAsync, qtbot: QtBot, fake_dagger_env: FakeDagger,
                 tmp_path: Path) -> tuple[MainWindow, ProjectStore]:
    store = seed(2, tmp_path)
    rows = read_projects(app_paths().db_file)
    assert rows is not None
    window = MainWindow(None, None, stored=rows)
    qtbot.addWidget(window)
    window.show()
    return window, store


def attach(window: MainWindow, store: ProjectStore) -> Orchestrator:
    paths = app_paths()
    orchestrator = Orchestrator(store, AppSettings.load(paths.settings_file), paths)
    orchestrator.reconcile_on_launch()
    window.attach_orchestrator(store, OrchestratorBridge(orchestrator))
    return orchestrator


def test_a_start_clicked_before_the_orchestrator_is_attached_is_queued_then_runs(
        early_window: tuple[MainWindow, ProjectStore], qt_async: QtAsync, qtbot: QtBot) -> None:
    window, store = early_window
    row = window.model.row_at(0)
    assert row is not None and row.status == ProjectStatus.STOPPED
    pid = row.project_id
    window.select_project(pid)
    window.toggle_action.trigger()  # Enter / the toolbar's Start, before the store and orchestrator exist
    assert window.model.row_for(pid).status == ProjectStatus.STARTING  # type: ignore[union-attr]
    assert window.toggle_action.text() == "Cancel"
    orchestrator = attach(window, store)
    try:
        qtbot.waitUntil(lambda: orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)
        assert window.model.row_for(pid).status == ProjectStatus.RUNNING  # type: ignore[union-attr]
        other = window.model.row_at(1)
        assert other is not None and orchestrator.state(other.project_id) == ProjectStatus.STOPPED
    finally:
        qt_async.run(orchestrator.aclose(), timeout=60)
        store.close()


def test_stop_on_a_start_that_was_only_queued_starts_nothing(
        early_window: tuple[MainWindow, ProjectStore], qt_async: QtAsync) -> None:
    window, store = early_window
    row = window.model.row_at(0)
    assert row is not None
    window.row_controls.refresh_all()
    window.start_selected()
    assert window.model.row_for(row.project_id).status == ProjectStatus.STARTING  # type: ignore[union-attr]
    window.stop_selected()
    assert window.model.row_for(row.project_id).status == ProjectStatus.STOPPED  # type: ignore[union-attr]
    orchestrator = attach(window, store)
    try:
        assert orchestrator.state(row.project_id) == ProjectStatus.STOPPED
        assert not orchestrator.active_projects()
    finally:
        qt_async.run(orchestrator.aclose(), timeout=60)
        store.close()


def test_what_needs_the_store_is_disabled_and_says_why_until_attached(
        early_window: tuple[MainWindow, ProjectStore], qt_async: QtAsync) -> None:
    window, store = early_window
    needs_store = (window.add_action, window.edit_action, window.remove_action, window.backup_action)
    assert not any(a.isEnabled() for a in needs_store)
    assert all(a.toolTip() == LOADING for a in needs_store)
    assert window.statusBar().currentMessage() == LOADING
    window.edit_project()  # double-click on a row: nothing opens, nothing breaks
    assert window.project_dialog is None
    orchestrator = attach(window, store)
    try:
        assert all(a.isEnabled() for a in needs_store)
        assert window.edit_action.toolTip().startswith("Edit the selected project")
        assert window.add_action.toolTip().startswith("Add a project")
        assert window.statusBar().currentMessage() == ""
        window.edit_project()
        assert window.project_dialog is not None
        window.project_dialog.close()
    finally:
        qt_async.run(orchestrator.aclose(), timeout=60)
        store.close()


def test_a_project_left_running_by_a_crash_paints_stopped(qtbot: QtBot, tmp_path: Path) -> None:
    store = seed(1, tmp_path)
    project = store.list()[0]
    assert project.id is not None
    store.set_status(project.id, ProjectStatus.RUNNING)
    store.close()
    rows = read_projects(app_paths().db_file)
    assert rows is not None
    window = MainWindow(None, None, stored=rows)
    qtbot.addWidget(window)
    row = window.model.row_for(project.id)
    assert row is not None and row.status == ProjectStatus.STOPPED  # as reconcile_on_launch will make it
    index = window.proxy.mapFromSource(window.model.index(0, 2))
    assert window.proxy.data(index, Qt.ItemDataRole.DisplayRole) == "Stopped"


def test_what_another_launch_or_a_signal_asked_while_loading_is_done_once_attached(
        qt_async: QtAsync, qapp: QApplication, qtbot: QtBot, fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    store = seed(2, tmp_path)
    paths = app_paths()
    instance = SingleInstance(paths)
    assert instance.acquire()
    settings = AppSettings.load(paths.settings_file)
    early = paint_first(paths, settings, instance)
    assert early is not None
    qtbot.addWidget(early.window)
    instance.activation_requested.emit(["Project 1"])  # a second launch with --start, before the core is there
    controller = AppController(qapp, paths, store, settings, window=early.window)
    try:
        early.hand_to(controller)
        pid = store.get_by_name("Project 1").id
        assert pid is not None
        qtbot.waitUntil(lambda: controller.orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)
    finally:
        if controller.follower is not None:
            controller.follower.stop()   # its next poll would find no loop to adopt a runner on
        qt_async.run(controller.orchestrator.aclose(), timeout=60)
        controller.window.intercept_close = False
        instance.release()
        store.close()


@pytest.fixture
def one_early(qtbot: QtBot, fake_dagger_env: FakeDagger, tmp_path: Path) -> Iterator[tuple[EarlyWindow, ProjectStore]]:
    """One project, its window painted from the stdlib read; the signal handlers put back afterwards."""
    store = seed(1, tmp_path)
    early = paint_first(app_paths(), AppSettings.load(app_paths().settings_file))
    assert early is not None
    qtbot.addWidget(early.window)
    try:
        yield early, store
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        store.close()


def test_a_signal_while_loading_quits_once_attached(qt_async: QtAsync, qapp: QApplication, qtbot: QtBot,
                                                    one_early: tuple[EarlyWindow, ProjectStore]) -> None:
    early, store = one_early
    os.kill(os.getpid(), signal.SIGTERM)  # handled by the early window's handler: recorded, not fatal
    qtbot.waitUntil(lambda: early.quit_requested is not None, timeout=5_000)
    controller = AppController(qapp, app_paths(), store, early.settings, window=early.window)
    early.hand_to(controller)
    assert qt_async.run(controller.wait_done(), timeout=30) == 0


def test_a_signal_caught_while_loading_but_handled_after_the_hand_over_quits(
        qt_async: QtAsync, qapp: QApplication, one_early: tuple[EarlyWindow, ProjectStore]) -> None:
    """The loop may run the early window's handler for a signal after the controller took over (the signal was
    caught before, its handler queued): the app quits all the same (seen: a SIGTERM at the first paint left
    the app running)."""
    early, store = one_early
    controller = AppController(qapp, app_paths(), store, early.settings, window=early.window)
    early.hand_to(controller)
    qt_async.loop.call_soon(early._on_signal, signal.SIGTERM)   # the handler the loop had queued
    assert qt_async.run(controller.wait_done(), timeout=30) == 0
