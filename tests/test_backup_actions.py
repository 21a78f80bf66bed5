"""The app's "Back up database" action (tray menu of a project): a running project is dumped in its own
session, a stopped one in a session of its own; a notification says where the file went or why it failed."""

from __future__ import annotations

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import DEFAULT_POSTGRES_IMAGE
from cchub_desktop.stack.backup import list_backups
from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


def wait_message(hub: Desktop, title: str) -> str:
    hub.qtbot.waitUntil(lambda: any(m[0] == title for m in hub.messages), timeout=30000)
    return next(m[1] for m in hub.messages if m[0] == title)


def test_backing_up_a_running_project_from_the_tray(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    desktop.click("alpha — Running", "Back up database")
    text = wait_message(desktop, "alpha: database backed up")
    (dump,) = list_backups(app_paths().backups_dir, "alpha")
    assert text == f"Saved to {dump}" and "PostgreSQL database dump" in dump.read_text()
    assert len(desktop.fake.journal.sessions()) == 1          # the running stack's own session
    assert desktop.status(pid) == S.RUNNING


def test_backing_up_a_stopped_project_and_a_failure_from_the_tray(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Back up database")
    wait_message(desktop, "alpha: database backed up")
    assert len(list_backups(app_paths().backups_dir, "alpha")) == 1
    desktop.fake.sessions_exited()
    desktop.fake.set(exec_fail="pg_dump:1:pg_dump: error: connection to server failed")
    desktop.click("alpha — Stopped", "Back up database")
    text = wait_message(desktop, "alpha: backup failed")
    assert "Backing up the database failed: `pg_dump" in text and "connection to server failed" in text
    assert len(list_backups(app_paths().backups_dir, "alpha")) == 1
    assert desktop.status(pid) == S.STOPPED


def test_no_backup_entry_while_a_project_starts(desktop: Desktop) -> None:
    desktop.fake.set(start_delay=30)
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.qtbot.waitUntil(lambda: desktop.status(pid) == S.STARTING)
    line = desktop.label("alpha")
    assert "Back up database" not in [a.text() for a in desktop.submenu(line).actions()]


def test_backing_up_from_the_window(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    window = desktop.window
    window.select_project(pid)
    assert window.backup_action.isEnabled()
    window.backup_action.trigger()
    desktop.qtbot.waitUntil(lambda: "database saved to" in window.statusBar().currentMessage(), timeout=30000)
    (dump,) = list_backups(app_paths().backups_dir, "alpha")
    assert window.statusBar().currentMessage() == f"alpha: database saved to {dump}"
    assert f"database saved to {dump}" in desktop.controller.orchestrator.log(pid).text()   # the log pane too

    desktop.fake.set(image_missing=DEFAULT_POSTGRES_IMAGE)
    window.backup_action.trigger()
    desktop.qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible(), timeout=30000)
    assert window.error_box.windowTitle() == "alpha: the database was not backed up"
    assert "could not be pulled" in window.error_box.text() and DEFAULT_POSTGRES_IMAGE in window.error_box.text()


def test_the_window_offers_no_backup_while_a_project_starts(desktop: Desktop) -> None:
    desktop.fake.set(start_delay=30)
    pid = desktop.add_project("alpha")
    desktop.window.select_project(pid)
    desktop.window.toggle_action.trigger()
    desktop.qtbot.waitUntil(lambda: desktop.status(pid) == S.STARTING)
    assert not desktop.window.backup_action.isEnabled()
