"""The services panel of the selected project: the seven services the stack runs, each with its state, where it
listens and its last log line; a double-click shows that service's log; the database's connection string is
copied only when the database is exposed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from cchub_desktop.health_monitor import service_health
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.restart_lines import done_text, restarted_in
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import ProjectRow
from cchub_desktop.ui.services_panel import HEALTH, LAST_LINE, LISTENS, UP, service_state, up_for

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]

START_TIMEOUT = 60_000
SEVEN = ["postgres", "redis", "nats", "backend", "worker", "beat", "frontend"]


def status_of(hub: GuiHub, pid: int) -> ProjectStatus | None:
    row = hub.window.model.row_for(pid)
    return row.status if row else None


def test_the_panel_lists_every_service_with_its_state_ports_and_log(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("served", project_dir)
    hub.window.bottom_tabs.setCurrentWidget(hub.window.services)   # the tab is filled while shown
    panel = hub.window.services
    project = hub.store.get(pid)
    assert panel.services() == SEVEN
    assert {panel.state_of(s) for s in SEVEN} == {"stopped"}
    item = panel.tree.findItems("frontend", Qt.MatchFlag.MatchExactly)[0]
    assert item.text(LISTENS) == f"localhost:{project.frontend_port} → 3000"
    assert panel.tree.findItems("postgres", Qt.MatchFlag.MatchExactly)[0].text(LISTENS) == "postgres:5432 in the stack"
    assert not panel.copy_db.isEnabled() and "Expose the database ports" in panel.copy_db.toolTip()

    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    qtbot.waitUntil(lambda: {panel.state_of(s) for s in SEVEN} == {"running"}, timeout=10_000)
    worker = panel.tree.findItems("worker", Qt.MatchFlag.MatchExactly)[0]
    assert worker.text(LAST_LINE), "the worker's last log line"
    # how long each service has been up, and the live check where there is one (the backend's and frontend's)
    assert all(panel.column_of(s, UP).endswith(" min") for s in SEVEN)
    assert panel.column_of("backend", HEALTH) == panel.column_of("frontend", HEALTH) == "healthy"
    assert panel.column_of("postgres", HEALTH) == "—"
    # while shown, the rows follow the services without a click: the last lines move on (the timer's tick)
    first = panel.column_of("worker", LAST_LINE)
    qtbot.waitUntil(lambda: (panel._up_timer.timeout.emit(), panel.column_of("worker", LAST_LINE) != first)[1],
                    timeout=20_000)
    # a double-click shows that service's log, and only it
    hub.window.bottom_tabs.setCurrentWidget(panel)   # the tab refreshes its rows
    worker = panel.tree.findItems("worker", Qt.MatchFlag.MatchExactly)[0]
    last = worker.text(LAST_LINE)
    panel.tree.itemDoubleClicked.emit(worker, 0)
    assert hub.window.bottom_tabs.currentWidget() is hub.window.log_view   # back on the log tab, filtered
    assert hub.window.log_view.filter.currentText() == "worker"
    qtbot.waitUntil(lambda: last in hub.window.log_view.shown_text(), timeout=10_000)   # the pane polls
    assert "uvicorn" not in hub.window.log_view.shown_text()   # the backend's lines are not the worker's

    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    hub.window.bottom_tabs.setCurrentWidget(panel)   # back to the services: refreshed when shown
    assert {panel.state_of(s) for s in SEVEN} == {"stopped"}
    assert {panel.column_of(s, UP) for s in SEVEN} == {panel.column_of(s, HEALTH) for s in SEVEN} == {""}
    fake_dagger_env.sessions_exited(timeout=10)


def test_copy_connection_string_needs_an_exposed_database_that_has_started(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("exposed", project_dir, expose_db=True)
    hub.window.bottom_tabs.setCurrentWidget(hub.window.services)   # the tab is filled while shown
    panel = hub.window.services
    assert panel.copy_db.isEnabled()
    assert panel.copy_connection_string() is None          # never started: no password yet
    assert "no database yet" in panel.title.text()
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    port = hub.store.get(pid).postgres_port
    url = panel.copy_connection_string()
    assert url is not None and url.startswith("postgresql://commandcenter:") and url.endswith(
        f"@localhost:{port}/commandcenter")
    assert QGuiApplication.clipboard().text() == url
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    fake_dagger_env.sessions_exited(timeout=10)


def test_restart_in_the_window_stops_the_stack_and_starts_a_new_one(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("again", project_dir)
    assert not hub.window.restart_action.isEnabled()   # only a running project restarts
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    assert hub.window.restart_action.isEnabled()
    hub.window.restart_action.trigger()
    qtbot.waitUntil(lambda: len(fake_dagger_env.journal.sessions()) == 2
                    and status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    sessions = fake_dagger_env.journal.sessions()
    assert sessions[0].exited and not sessions[1].exited
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    fake_dagger_env.sessions_exited(timeout=10)


def test_while_starting_the_services_before_the_phase_are_up_and_the_rest_wait(
        gui_hub: GuiHub, project_dir: Path) -> None:
    project = gui_hub.store.get(gui_hub.add_project("phased", project_dir))
    row = ProjectRow(project, ProjectStatus.STARTING, phase="backend")
    assert [service_state(row, s) for s in SEVEN] == [
        "started", "started", "started", "starting", "waiting", "waiting", "waiting"]
    building = ProjectRow(project, ProjectStatus.STARTING, phase="backend_build|pip install: collecting torch")
    assert {service_state(building, s) for s in SEVEN} == {"waiting"}


def test_a_service_that_stops_answering_is_named_in_its_own_row_and_up_ages(
        gui_hub: GuiHub, project_dir: Path) -> None:
    hub = gui_hub
    project = hub.store.get(hub.add_project("ailing", project_dir))
    hub.window.bottom_tabs.setCurrentWidget(hub.window.services)
    panel = hub.window.services
    started = datetime.now(UTC) - timedelta(hours=3, minutes=5)
    project.last_started_at = started
    row = ProjectRow(project, ProjectStatus.RUNNING, health="backend answers HTTP 500; frontend not answering")
    panel.show_row(row, AppSettings(), hub.paths.secrets_dir, {})
    assert panel.column_of("backend", HEALTH) == "answers HTTP 500"
    assert panel.column_of("frontend", HEALTH) == "not answering"
    assert panel.column_of("redis", HEALTH) == "—"
    assert {panel.column_of(s, UP) for s in SEVEN} == {"3 h 05 min"}
    # a service restarted alone counts from its restart; one restarted before this run of the stack does not
    panel.show_row(row, AppSettings(), hub.paths.secrets_dir, {}, restarted={
        "worker": datetime.now(UTC) - timedelta(minutes=2), "beat": started - timedelta(days=1)})
    assert panel.column_of("worker", UP) == "2 min"
    assert panel.column_of("beat", UP) == panel.column_of("postgres", UP) == "3 h 05 min"


def test_service_health_and_up_texts() -> None:
    assert service_health("healthy", "backend") == "healthy"
    assert service_health("frontend not answering", "backend") == "healthy"
    assert service_health("frontend not answering", "frontend") == "not answering"
    assert service_health("backend answers HTTP 503", "worker") == ""
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert [up_for(now - timedelta(seconds=s), now) for s in (40, 12 * 60, 2 * 86400 + 4 * 3600 + 9)] == [
        "< 1 min", "12 min", "2 d 4 h"]
    assert up_for(None) == ""
    assert restarted_in("[hub] Acme: restarted the redis with backend, worker, frontend in 12.0 s") == (
        "redis", "backend", "worker", "frontend")
    assert restarted_in("[hub] Acme: restarted the worker in 5.4 s") == ("worker",)   # a log from before
    assert restarted_in("[hub] Acme: restarted redis with backend in 8.4 s") == ("redis", "backend")
    assert done_text("redis", ["backend"], 8.4) == "restarted redis with backend in 8.4 s"   # not "the redis"
    assert restarted_in(done_text("nats", ["backend"], 3.25)) == ("nats", "backend")
    assert restarted_in("[hub] restarting the worker; the other services keep running") == ()
    assert restarted_in("[hub] restarting worker; the other services keep running") == ()


def test_restart_service_restarts_the_selected_service_and_says_so(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("restarting", project_dir)
    hub.window.bottom_tabs.setCurrentWidget(hub.window.services)
    panel = hub.window.services
    assert not panel.restart.isEnabled()                      # only a running project's services restart
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    qtbot.waitUntil(panel.restart.isEnabled)
    journal = fake_dagger_env.journal
    sessions, starts = len(journal.sessions()), len(journal.services("start"))
    panel.tree.setCurrentItem(panel.tree.findItems("beat", Qt.MatchFlag.MatchExactly)[0])
    panel.restart.click()
    assert not panel.restart.isEnabled()                      # one restart at a time
    qtbot.waitUntil(lambda: "restarted beat in " in hub.window.statusBar().currentMessage(), timeout=30_000)
    assert panel.restart.isEnabled()
    assert len(journal.services("start")) == starts + 1 and len(journal.sessions()) == sessions
    hub.window.bottom_tabs.setCurrentWidget(hub.window.log_view)
    hub.window.bottom_tabs.setCurrentWidget(panel)              # read back from the log: beat's Up restarts
    assert set(panel._since) == {"beat"}
    assert status_of(hub, pid) == ProjectStatus.RUNNING
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    fake_dagger_env.sessions_exited(timeout=10)


def test_the_services_and_storage_tabs_are_built_when_first_shown(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    """An idle window holds no services or storage panel (memory); clicking the tab builds it, filled."""
    from cchub_desktop.ui.services_panel import ServicesPanel
    from cchub_desktop.ui.storage_panel import StoragePanel

    hub = gui_hub
    hub.add_project("served", project_dir)
    tabs = hub.window.bottom_tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Log", "Services", "Storage"]
    assert not hub.window.findChildren(ServicesPanel) and not hub.window.findChildren(StoragePanel)

    tabs.setCurrentIndex(1)   # as a click on the tab does
    (panel,) = hub.window.findChildren(ServicesPanel)
    assert tabs.currentWidget() is panel and tabs.tabText(1) == "Services"
    assert panel.services() == SEVEN   # filled for the selected project at once
    assert not hub.window.findChildren(StoragePanel)

    tabs.setCurrentIndex(2)
    (storage,) = hub.window.findChildren(StoragePanel)
    assert tabs.currentWidget() is storage and hub.window.storage is storage
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Log", "Services", "Storage"]
    tabs.setCurrentIndex(1)
    assert tabs.currentWidget() is panel   # built once
