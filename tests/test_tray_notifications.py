"""Notifications: sent when a stack runs, stops or fails; each kind suppressed by its setting."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus
Icon = QSystemTrayIcon.MessageIcon


def run_then_stop(hub: Desktop, pid: int) -> None:
    hub.click(hub.label("alpha"), "Start")
    hub.wait_status(pid, S.RUNNING)
    hub.click(hub.label("alpha"), "Stop")
    hub.wait_status(pid, S.STOPPED)


def fail(hub: Desktop, pid: int) -> None:
    hub.fake.set(exec_fail="alembic upgrade:1:FATAL: database is not ready")
    hub.click(hub.label("alpha"), "Start")
    hub.wait_status(pid, S.ERROR)


def test_running_stopped_and_failed_are_announced(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    run_then_stop(desktop, pid)
    url = f"http://localhost:{desktop.ports[pid]['frontend']}"
    assert [(t, x, i) for t, x, i, _ms in desktop.messages] == [
        ("alpha is running", f"Open {url}", Icon.Information),
        ("alpha stopped", "Its services were stopped and its ports released.", Icon.Information),
    ]
    desktop.messages.clear()
    fail(desktop, pid)
    [(title, text, icon, _ms)] = desktop.messages
    assert (title, icon) == ("alpha failed", Icon.Critical)
    assert text == desktop.controller.orchestrator.message(pid)
    assert "alembic upgrade" in text or "database is not ready" in text, text


@pytest.mark.parametrize("kind", ["running", "stopped", "failed"])
def test_each_kind_can_be_turned_off(desktop: Desktop, kind: str) -> None:
    setattr(desktop.settings, f"notify_{kind}", False)
    pid = desktop.add_project("alpha")
    run_then_stop(desktop, pid)
    fail(desktop, pid)
    titles = [m[0] for m in desktop.messages]
    expected = {"running": "alpha is running", "stopped": "alpha stopped", "failed": "alpha failed"}
    assert expected.pop(kind) not in titles
    assert sorted(titles) == sorted(expected.values())


def test_a_failed_start_is_not_also_announced_as_stopped(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    fail(desktop, pid)
    assert [m[0] for m in desktop.messages] == ["alpha failed"]


def test_clicking_a_message_shows_its_project(desktop: Desktop) -> None:
    desktop.add_project("alpha")
    beta = desktop.add_project("beta")
    desktop.window.select_row(0)
    desktop.window.hide()
    desktop.click("beta — Stopped", "Start")
    desktop.wait_status(beta, S.RUNNING)
    assert desktop.messages[-1][0] == "beta is running"
    desktop.tray.icon.messageClicked.emit()
    assert desktop.window.isVisible()
    assert desktop.window.selected_id() == beta


def test_quitting_sends_no_stop_notifications(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    desktop.messages.clear()
    desktop.aio.wait(desktop.controller.begin_quit(0), timeout=60)
    assert desktop.status(pid) == S.STOPPED
    assert desktop.messages == []


def test_clicking_a_backup_message_shows_the_backed_up_project(desktop: Desktop) -> None:
    alpha = desktop.add_project("alpha")
    beta = desktop.add_project("beta")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(alpha, S.RUNNING)  # the last project message is about alpha
    desktop.window.select_project(alpha)
    desktop.window.hide()
    desktop.click("beta — Stopped", "Back up database")
    desktop.qtbot.waitUntil(lambda: desktop.messages[-1][0].startswith("beta: "), timeout=60_000)
    desktop.tray.icon.messageClicked.emit()
    assert desktop.window.isVisible()
    assert desktop.window.selected_id() == beta
