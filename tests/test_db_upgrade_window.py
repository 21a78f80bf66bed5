"""The window's "Upgrade database…" (project context menu): a confirmation that says what will happen and
that the old volume is kept, then the upgrade in the background; refusals and failures in a message box."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QMessageBox

from cchub_desktop.lease import owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import DEFAULT_POSTGRES_IMAGE
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.db_upgrade_dialog import CONFIRM, INFO, UPGRADE_BUTTON
from cchub_desktop.ui.project_menu import build_project_menu
from tests import tray_fixtures
from tests.test_db_upgrade import OLD_IMAGE, TABLES, as_schema_1_project
from tests.tray_fixtures import Desktop, find_box

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


def pg15_project(desktop: Desktop) -> int:
    volumes = desktop.fake.keep_volumes()
    pid = desktop.add_project("alpha")
    as_schema_1_project(desktop.store.db_file, pid)
    volumes.seed("cchub-alpha-pgdata", OLD_IMAGE, TABLES)
    desktop.window.reload(select_id=pid)
    return pid


def wait_box(desktop: Desktop, name: str, timeout: int = 60000) -> QMessageBox:
    desktop.qtbot.waitUntil(lambda: find_box(name) is not None, timeout=timeout)
    box = find_box(name)
    assert box is not None
    return box


def click(box: QMessageBox, text: str) -> None:
    (button,) = [b for b in box.buttons() if b.text() == text]
    button.click()


def postgres_starts(desktop: Desktop) -> list[tuple[object, list[str]]]:
    return [(r["image"], [m["source"] for m in r["mounts"] if m["kind"] == "cache"])  # type: ignore[attr-defined]
            for r in desktop.fake.journal.services("start") if r["service_kind"] == "postgres"]


def test_upgrading_from_the_context_menu_then_starting_on_the_new_database(desktop: Desktop) -> None:
    pid = pg15_project(desktop)
    window = desktop.window
    menu = build_project_menu(window, 1)
    (action,) = [a for a in menu.actions() if a.text() == "Upgrade database…"]
    assert action.isEnabled()
    action.trigger()
    confirm = wait_box(desktop, CONFIRM)
    assert confirm.windowTitle() == "Upgrade the database of alpha?"
    text = confirm.text()
    assert "from PostgreSQL 15 (postgres:15-alpine, volume cchub-alpha-pgdata)" in text
    assert f"to PostgreSQL 16 ({DEFAULT_POSTGRES_IMAGE}, a new volume cchub-alpha-pgdata-pg16)" in text
    assert "the old volume is kept, unchanged, until you delete it" in text
    assert desktop.fake.journal.sessions() == []             # nothing happens before the user agrees
    click(confirm, UPGRADE_BUTTON)
    done = wait_box(desktop, INFO)
    assert done.windowTitle() == "alpha: database upgraded"
    assert "kept, unchanged, in the engine's cache volume cchub-alpha-pgdata" in done.text()
    project = desktop.store.get(pid)
    assert (project.db_image, project.db_major, project.db_volume) == (DEFAULT_POSTGRES_IMAGE, 16,
                                                                       "cchub-alpha-pgdata-pg16")
    assert "the restored database has the 4 tables and 13 rows" in desktop.controller.orchestrator.log(pid).text()
    done.close()

    window.select_project(pid)
    window.toggle_action.trigger()
    desktop.wait_status(pid, S.RUNNING)
    assert postgres_starts(desktop)[-1] == (DEFAULT_POSTGRES_IMAGE, ["cchub-alpha-pgdata-pg16"])


def test_a_running_project_is_told_to_stop_first_and_a_current_one_has_nothing_to_do(desktop: Desktop) -> None:
    pid = pg15_project(desktop)
    window = desktop.window
    window.toggle_action.trigger()
    desktop.wait_status(pid, S.RUNNING)
    window.select_project(pid)
    window.upgrade_db_action.trigger()
    desktop.qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    assert window.error_box.windowTitle() == "alpha: the database cannot be upgraded"
    assert "'alpha' is running: stop it first" in window.error_box.text()
    assert "log pane" not in window.error_box.informativeText()   # the log has nothing about it
    assert find_box(CONFIRM) is None
    window.error_box.close()

    other = desktop.add_project("beta")
    desktop.store.record_db_image(other, DEFAULT_POSTGRES_IMAGE, 16)
    window.reload(select_id=other)
    window.upgrade_db_action.trigger()
    info = wait_box(desktop, INFO)
    assert "already runs PostgreSQL 16" in info.text() and "nothing to upgrade" in info.text()
    assert len(desktop.fake.journal.sessions()) == 1             # alpha's running stack only


def test_a_failed_upgrade_says_the_project_keeps_its_old_database(desktop: Desktop) -> None:
    pid = pg15_project(desktop)
    desktop.fake.set(exec_fail="psql:3:psql: error: connection to server failed")
    desktop.window.upgrade_db_action.trigger()
    click(wait_box(desktop, CONFIRM), UPGRADE_BUTTON)
    window = desktop.window
    desktop.qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible(), timeout=60000)
    assert window.error_box.windowTitle() == "alpha: the database was not upgraded"
    assert "Nothing was changed: the project still uses postgres:15-alpine" in window.error_box.text()
    assert window.error_box.informativeText() == "The log pane has the technical details."
    assert "psql: error: connection to server failed" in desktop.controller.orchestrator.log(pid).text()
    project = desktop.store.get(pid)
    assert (project.db_image, project.db_major, project.db_volume) == (OLD_IMAGE, 15, None)
    assert desktop.status(pid) == S.STOPPED


def test_the_rows_more_menu_upgrades_that_rows_project(desktop: Desktop) -> None:
    pid = pg15_project(desktop)
    window = desktop.window
    other = desktop.add_project("beta")                       # selected now
    window.row_controls.fill_visible()
    controls = window.row_controls.controls_for(pid)
    assert controls is not None
    (entry,) = [a for a in controls.more_menu().actions() if a.text() == "Upgrade database…"]
    entry.trigger()
    confirm = wait_box(desktop, CONFIRM)
    assert confirm.windowTitle() == "Upgrade the database of alpha?"
    assert window.selected_row().project_id == pid and other != pid
    click(confirm, "Cancel")
    desktop.qtbot.waitUntil(lambda: find_box(CONFIRM) is None)
    assert desktop.fake.journal.sessions() == [] and desktop.store.get(pid).db_volume is None


def test_no_start_while_the_upgrade_runs_and_quitting_midway_leaves_it_to_finish_in_its_process(
        desktop: Desktop) -> None:
    pid = pg15_project(desktop)
    orch = desktop.controller.orchestrator
    key = desktop.store.get(pid).data_key
    desktop.window.upgrade_db_action.trigger()
    desktop.fake.set(start_delay=5)                   # PostgreSQL takes its time to come up for the dump
    click(wait_box(desktop, CONFIRM), UPGRADE_BUTTON)
    desktop.qtbot.waitUntil(lambda: "starting PostgreSQL on the project's data volume" in orch.log(pid).text(),
                            timeout=30000)            # the job's own log lines, followed in the window's pane
    job = owner_of(app_paths().runtime_dir, key)
    assert job is not None and job.pid != os.getpid() and job.kind == "cchub upgrade-db"   # its own process
    desktop.window.select_project(pid)
    desktop.window.toggle_action.trigger()             # Start while the upgrade runs: refused
    assert orch.request_start(pid) is None and desktop.status(pid) == S.STOPPED
    desktop.aio.run(orch.aclose(), timeout=30)         # the app quits mid-upgrade: the job goes on, whole
    desktop.qtbot.waitUntil(lambda: owner_of(app_paths().runtime_dir, key) is None, timeout=90000)
    project = desktop.store.get(pid)
    assert (project.db_major, project.db_volume) == (16, "cchub-alpha-pgdata-pg16")
    desktop.fake.sessions_exited()
    assert desktop.fake.journal.running_services() == []
