"""Every tray menu action, through the real orchestrator and stacks on the fake engine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication

from cchub_desktop.stack.restart_lines import STACK_SERVICES
from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


class UrlCatcher(QObject):
    """Receives http URLs instead of the browser (QDesktopServices.setUrlHandler)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def browser() -> Iterator[UrlCatcher]:
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "open")
    yield catcher
    QDesktopServices.unsetUrlHandler("http")


def frontend_answers(hub: Desktop, pid: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{hub.ports[pid]['frontend']}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_start_then_stop_from_the_menu(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    assert frontend_answers(desktop, pid)
    desktop.click("alpha — Running", "Stop")
    desktop.wait_status(pid, S.STOPPED)
    assert desktop.ports_free(pid)
    desktop.fake.sessions_exited()


def test_open_in_browser_opens_the_frontend_url(desktop: Desktop, browser: UrlCatcher) -> None:
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    desktop.click("alpha — Running", "Open in browser")
    assert browser.urls == [f"http://localhost:{desktop.ports[pid]['frontend']}"]


def test_open_in_browser_without_a_browser_says_so_and_copies_the_address(
        desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> None:
    # seen on a machine with no web browser: Qt only logged "Unable to detect a web browser"
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    desktop.click("alpha — Running", "Open in browser")
    url = f"http://localhost:{desktop.ports[pid]['frontend']}"
    assert [(title, text) for title, text, _icon, _ms in desktop.messages][-1] == (
        "alpha: no web browser", f"No web browser could be started for {url}. The address is copied to the clipboard.")
    assert QGuiApplication.clipboard().text() == url


def test_restart_service_from_the_menu_restarts_that_service_in_the_running_stack(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    assert "Restart service" not in desktop.menu_texts(desktop.submenu("alpha — Stopped"))   # only when running
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.RUNNING)
    assert desktop.menu_texts(desktop.submenu("alpha — Running", "Restart service")) == list(STACK_SERVICES)
    sessions, starts = len(desktop.fake.journal.sessions()), len(desktop.fake.journal.services("start"))
    desktop.click("alpha — Running", "Restart service", "worker")
    desktop.qtbot.waitUntil(lambda: any(title == "alpha: worker restarted" for title, *_ in desktop.messages),
                            timeout=30_000)
    (text,) = [text for title, text, *_ in desktop.messages if title == "alpha: worker restarted"]
    assert text.startswith("restarted worker in ")
    assert len(desktop.fake.journal.services("start")) == starts + 1          # the worker, nothing else
    assert len(desktop.fake.journal.sessions()) == sessions and desktop.status(pid) == S.RUNNING
    desktop.click("alpha — Running", "Stop")
    desktop.wait_status(pid, S.STOPPED)
    desktop.fake.sessions_exited()


def test_start_all_and_stop_all(desktop: Desktop) -> None:
    ids = [desktop.add_project(name) for name in ("alpha", "beta", "gamma")]
    desktop.click("Start all")
    for pid in ids:
        desktop.wait_status(pid, S.RUNNING)
    assert all(frontend_answers(desktop, pid) for pid in ids)
    assert desktop.menu_texts()[0] == "CommandCenter Hub: 3 running"
    desktop.click("Stop all")
    for pid in ids:
        desktop.wait_status(pid, S.STOPPED)
    assert all(desktop.ports_free(pid) for pid in ids)
    assert not desktop.action("Stop all").isEnabled()
    desktop.fake.sessions_exited()


def test_start_all_leaves_running_projects_alone_and_retries_failed_ones(desktop: Desktop) -> None:
    desktop.fake.set(exec_fail="alembic upgrade:1:could not connect")
    failed = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(failed, S.ERROR)
    desktop.fake.set(exec_fail=None)
    running = desktop.add_project("beta")
    desktop.click("beta — Stopped", "Start")
    desktop.wait_status(running, S.RUNNING)
    sessions_before = len(desktop.fake.journal.sessions())
    desktop.click("Start all")
    desktop.wait_status(failed, S.RUNNING)
    assert desktop.status(running) == S.RUNNING
    assert len(desktop.fake.journal.sessions()) == sessions_before + 1  # only the failed one started again
