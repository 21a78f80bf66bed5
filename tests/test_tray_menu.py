"""The tray menu, icon and tooltip in each state, with real stacks on the fake engine."""

from __future__ import annotations

from PySide6.QtCore import QPoint

from cchub_desktop.resources import TrayState
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.icons import tray_icon
from cchub_desktop.ui.tray_menu import MAX_INLINE_PROJECTS
from tests import tray_fixtures
from tests.tray_fixtures import Desktop, find_box, top_level

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env

S = ProjectStatus
FIXED = ["Start all", "Stop all", "Show window", "Settings…", "Quit"]


def icon_shows(hub: Desktop, state: TrayState) -> bool:
    return hub.tray.state == state and hub.tray.icon.icon().cacheKey() == tray_icon(state).cacheKey()


def test_no_projects_offers_to_add_one(desktop: Desktop) -> None:
    assert desktop.menu_texts() == ["CommandCenter Hub: nothing running", "No projects yet", "Add a project…",
                                    *FIXED]
    assert not desktop.action("Start all").isEnabled()
    assert not desktop.action("Stop all").isEnabled()
    assert icon_shows(desktop, TrayState.IDLE)
    desktop.window.hide()
    desktop.click("Add a project…")
    assert desktop.window.isVisible()
    desktop.qtbot.waitUntil(lambda: top_level("project_dialog") is not None)


def test_stopped_project_offers_start(desktop: Desktop) -> None:
    desktop.add_project("alpha")
    assert desktop.menu_texts() == ["CommandCenter Hub: nothing running", "alpha — Stopped", *FIXED]
    assert [a.text() for a in desktop.submenu("alpha — Stopped").actions()] == ["Start", "Back up database",
                                                                                 "Update CommandCenter",
                                                                                 "Show in window"]
    assert desktop.action("Start all").isEnabled()
    assert not desktop.action("Stop all").isEnabled()
    assert desktop.tray.tooltip() == "CommandCenter Hub\nnothing running"
    assert icon_shows(desktop, TrayState.IDLE)


def test_running_project_offers_stop_and_open(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    assert desktop.menu_texts() == ["CommandCenter Hub: 1 running", "alpha — Running", *FIXED]
    sub = desktop.submenu("alpha — Running")
    assert [a.text() for a in sub.actions()] == ["Stop", "Open in browser", "Restart", "Restart service",
                                                 "Back up database",
                                                 "Update CommandCenter", "Show in window"]
    assert sub.actions()[1].toolTip() == f"http://localhost:{desktop.ports[pid]['frontend']}"
    assert not desktop.action("Start all").isEnabled()
    assert desktop.action("Stop all").isEnabled()
    assert desktop.tray.tooltip() == "CommandCenter Hub\n1 running"
    assert icon_shows(desktop, TrayState.RUNNING)


def test_restart_from_the_tray_stops_the_stack_and_starts_a_new_one(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    first = desktop.fake.journal.sessions()
    assert len(first) == 1
    desktop.click("alpha — Running", "Restart")
    desktop.qtbot.waitUntil(lambda: len(desktop.fake.journal.sessions()) == 2 and desktop.status(pid) == S.RUNNING,
                            timeout=60000)
    sessions = desktop.fake.journal.sessions()
    assert sessions[0].exited and not sessions[1].exited   # the old session closed, a new one runs
    desktop.click("alpha — Running", "Stop")
    desktop.wait_status(pid, S.STOPPED)


def test_starting_project_shows_its_phase_and_offers_stop(desktop: Desktop) -> None:
    desktop.fake.set(start_delay=30)  # each service start hangs: the stack stays starting
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.qtbot.waitUntil(lambda: desktop.controller.orchestrator.phase(pid) is not None, timeout=20000)
    assert desktop.tray.state == TrayState.STARTING
    label = desktop.label("alpha")
    assert label.startswith("alpha — Starting: "), label
    assert [a.text() for a in desktop.submenu(label).actions()] == ["Stop", "Show in window"]
    assert desktop.tray.tooltip() == "CommandCenter Hub\n1 starting"
    assert icon_shows(desktop, TrayState.STARTING)
    desktop.click(label, "Stop")  # cancels the start
    desktop.wait_status(pid, S.STOPPED)
    assert icon_shows(desktop, TrayState.IDLE)


def test_failed_project_shows_failure_and_offers_start_again(desktop: Desktop) -> None:
    desktop.fake.set(exec_fail="alembic upgrade:1:relation already exists")
    ok = desktop.add_project("alpha")
    bad = desktop.add_project("beta")
    desktop.click("alpha — Stopped", "Start")
    desktop.click("beta — Stopped", "Start")
    desktop.wait_status(bad, S.ERROR)
    desktop.wait_status(ok, S.ERROR)  # the same migration fails for both: both fail alike
    desktop.fake.set(exec_fail=None)
    desktop.click("alpha — Failed", "Start")
    desktop.wait_status(ok, S.RUNNING)
    assert desktop.menu_texts()[:3] == ["CommandCenter Hub: 1 running, 1 failed", "alpha — Running",
                                        "beta — Failed"]
    failed = desktop.action("beta — Failed")
    assert failed.toolTip() == desktop.controller.orchestrator.message(bad)
    assert [a.text() for a in failed.menu().actions()] == [  # type: ignore[union-attr]
        "Start", "Back up database", "Update CommandCenter", "Show in window"]
    assert desktop.tray.tooltip() == "CommandCenter Hub\n1 running, 1 failed"
    assert icon_shows(desktop, TrayState.ERROR)  # a failure outranks what runs


def test_menu_is_rebuilt_from_current_state_each_time_it_opens(desktop: Desktop) -> None:
    desktop.add_project("alpha")
    assert "beta — Stopped" not in desktop.menu_texts()
    desktop.store.add("beta", desktop.tmp_path, backend_port=None)  # e.g. added by `cchub add` meanwhile
    assert "beta — Stopped" in desktop.menu_texts()


def test_many_projects_move_into_a_submenu_running_first(desktop: Desktop) -> None:
    ids = {name: desktop.add_project(name) for name in (f"p{i:02d}" for i in range(MAX_INLINE_PROJECTS + 2))}
    desktop.click("Projects (12)", "p07 — Stopped", "Start")
    desktop.wait_status(ids["p07"], S.RUNNING)
    texts = desktop.menu_texts()
    assert texts == ["CommandCenter Hub: 1 running", "Projects (12, 1 running)", *FIXED]
    inside = [a.text() for a in desktop.submenu("Projects (12, 1 running)").actions()]
    assert inside[0] == "p07 — Running"
    assert inside[1:] == [f"p{i:02d} — Stopped" for i in range(12) if i != 7]


def test_show_in_window_selects_the_project(desktop: Desktop) -> None:
    desktop.add_project("alpha")
    beta = desktop.add_project("beta")
    desktop.window.select_row(0)
    desktop.window.hide()
    desktop.click("beta — Stopped", "Show in window")
    assert desktop.window.isVisible()
    assert desktop.window.selected_id() == beta


def test_show_window_and_settings(desktop: Desktop) -> None:
    desktop.window.hide()
    desktop.click("Show window")
    assert desktop.window.isVisible()
    desktop.click("Settings…")
    desktop.qtbot.waitUntil(lambda: top_level("settings_dialog") is not None)
    assert find_box("quit_confirm") is None


def test_an_open_menu_follows_the_states_in_place_and_a_failure_has_its_reason(desktop: Desktop) -> None:
    desktop.fake.set(exec_fail="alembic upgrade:1:relation already exists")
    pid = desktop.add_project("alpha")
    desktop.window.select_project(desktop.add_project("beta"))  # alpha's failure raises no box over the menu
    menu = desktop.open_menu()
    menu.popup(QPoint(200, 200))  # the user opened it and keeps it open
    desktop.qtbot.waitUntil(menu.isVisible, timeout=2000)
    try:
        line = next(a for a in menu.actions() if a.text() == "alpha — Stopped")
        desktop.controller.bridge.start(pid)  # from the window (or anywhere) while the menu stays open
        desktop.wait_status(pid, S.ERROR)
        # the same action, changed where it is: no rebuild (that happens only when the menu opens)
        desktop.qtbot.waitUntil(lambda: line.text() == "alpha — Failed", timeout=2000)
        assert line in menu.actions() and menu.isVisible()
        assert line.toolTip() == desktop.controller.orchestrator.message(pid)
        assert "relation already exists" in line.toolTip()
        assert menu.toolTipsVisible()  # Qt shows action tooltips in a menu only when asked to
        assert next(a.text() for a in menu.actions() if not a.isSeparator()) == "CommandCenter Hub: 1 failed"
        assert desktop.window.error_box is None
    finally:
        menu.hide()
