"""The detail strip under the table: the selected project's failure in full with the button that helps, its
source commit and URLs; a failure of a project that is not selected raises no box; every log line once."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.detail_strip import CHANGE_PORTS, SHOW_LOG

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]

START_TIMEOUT = 60_000


def status_of(hub: GuiHub, pid: int) -> ProjectStatus | None:
    row = hub.window.model.row_for(pid)
    return row.status if row else None


def test_a_failure_shows_in_full_under_the_table_with_show_log(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    fake_dagger_env.set(exec_fail="npm:1:npm ERR! missing script: build")
    pid = hub.add_project("webby", project_dir)
    strip = hub.window.detail
    assert strip.isVisible() and "webby" in strip.state.text()
    assert strip.commit.text() == "not pinned yet"
    port = hub.store.get(pid).frontend_port
    assert f"http://localhost:{port}" in strip.urls.text()
    assert not strip.failure.isVisible()
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.ERROR, timeout=START_TIMEOUT)
    assert strip.failure.isVisible()
    assert strip.failure.text() == hub.orchestrator.message(pid)  # in full: the output's last lines too
    assert "npm ERR! missing script: build" in strip.failure.text()
    assert strip.remedy_button.isVisible() and strip.remedy_button.text() == SHOW_LOG
    assert strip.started.text() == "never"   # a start that failed is no start
    box = hub.window.error_box
    assert box is not None and box.informativeText() == "The log pane has the technical details."
    box.close()
    qtbot.mouseClick(strip.remedy_button, Qt.MouseButton.LeftButton)
    assert hub.window.log_view.text.hasFocus() or hub.window.log_view.text.isVisible()
    assert "npm ERR! missing script: build" in hub.window.log_view.shown_text()

    # every line once, attributed to the service that printed it
    lines = hub.orchestrator.log(pid).lines()[1]
    npm = [line for line in lines if "missing script: build" in line.text]
    assert [line.service for line in npm] == ["frontend"], [(line.service, line.text) for line in npm]
    fake_dagger_env.sessions_exited(timeout=10)


def test_the_source_of_a_project_run_from_a_local_folder_names_that_folder(
        gui_hub: GuiHub, project_dir: Path, tmp_path: Path) -> None:
    hub = gui_hub
    hub.add_project("local", project_dir)
    hub.orchestrator.settings.source_local_dir = str(tmp_path / "commandcenter")   # Settings → Source
    hub.window.reload()
    # seen on a real engine: "not pinned yet" for ever, while `cchub plan` said "local checkout at cc1da24"
    assert hub.window.detail.commit.text() == f"local folder {tmp_path / 'commandcenter'}"


def test_a_port_conflict_offers_change_ports_and_a_pinned_commit_shows(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    import socket

    hub = gui_hub
    pid = hub.add_project("ported", project_dir)
    project = hub.store.get(pid)
    with sqlite3.connect(hub.paths.db_file) as db:  # as the start that pins the source writes it
        db.execute("UPDATE project SET source_commit = ?, source_commit_date = ? WHERE id = ?",
                   ("0123456789abcdef0123456789abcdef01234567", "2026-11-30 12:00:00.000000", pid))
    hub.window.reload(select_id=pid)
    assert hub.window.detail.commit.text() == "0123456 (2026-11-30)"
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", project.frontend_port))
        blocker.listen()
        hub.window.toggle_action.trigger()
        qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.ERROR, timeout=START_TIMEOUT)
        strip = hub.window.detail
        assert "already in use" in strip.failure.text()
        assert strip.remedy_button.text() == CHANGE_PORTS
        box = hub.window.error_box
        assert box is not None and "log pane" not in box.informativeText()   # the message is all there is
        box.close()
        qtbot.mouseClick(strip.remedy_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: hub.window.project_dialog is not None, timeout=2000)
        dialog = hub.window.project_dialog
        assert dialog is not None
        # it opens on the port that failed, marked, with the next free port filled in
        spin = dialog.port_spins["frontend_port"]
        assert dialog.focusWidget() is spin
        assert spin.value() > project.frontend_port
        assert f"Frontend port {project.frontend_port} is in use by" in dialog.error_text("frontend_port")
        assert f"Filled in: {spin.value()}" in dialog.error_text("frontend_port")
        spin.setValue(project.frontend_port)   # back to the port still taken: Save refuses it
        dialog.save_button.click()
        assert "is in use by" in dialog.error_text("frontend_port")
        assert dialog.isVisible() and hub.store.get(pid).frontend_port == project.frontend_port
    dialog.reject()


def test_a_failure_of_a_project_not_selected_raises_no_box(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path) -> None:
    hub = gui_hub
    fake_dagger_env.set(exit_at_start=1)
    failing = hub.add_project("failing", project_dir)
    other = tmp_path / "looked-at"
    other.mkdir()
    looked_at = hub.add_project("looked at", other)
    hub.bridge.start(failing)
    qtbot.waitUntil(lambda: status_of(hub, failing) == ProjectStatus.ERROR, timeout=START_TIMEOUT)
    assert hub.window.selected_id() == looked_at
    assert hub.window.error_box is None
    assert "failing could not start" in hub.window.statusBar().currentMessage()
    hub.window.select_project(failing)
    assert hub.window.detail.failure.isVisible() and hub.window.detail.failure.text()


def test_started_is_when_the_stack_got_running_and_reads_the_same_after_a_relaunch(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from cchub_desktop.ui.detail_strip import DetailStrip
    from cchub_desktop.ui.project_table_model import ProjectRow

    hub = gui_hub
    pid = hub.add_project("timed", project_dir)
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    shown = hub.window.detail.started.text()
    assert shown != "never"
    qtbot.waitUntil(lambda: hub.store.get(pid).last_started_at is not None, timeout=10_000)
    relaunched = DetailStrip()   # a new window reads the store only
    qtbot.addWidget(relaunched)
    relaunched.show_row(ProjectRow(hub.store.get(pid), ProjectStatus.RUNNING))
    assert relaunched.started.text() == shown
