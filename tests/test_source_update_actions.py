""""Update CommandCenter" in the window (the project's context menu) and the tray: the pin moves to the ref's
newest commit and the status bar / notification says old → new; the detail strip shows the new pin."""

from __future__ import annotations

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.source_pin import VERIFIED_COMMIT
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_menu import build_project_menu
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

NOT_VERIFIED = f" (not verified with this release, which was verified against {VERIFIED_COMMIT[:7]})"

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus
OLD = "0123456789abcdef0123456789abcdef01234567"


def _pinned(hub: Desktop, name: str) -> int:
    pid = hub.add_project(name)
    hub.controller.store.record_source_pin(pid, AppSettings().source_git_url, "main", OLD, None)
    hub.window.reload()
    return pid


def test_update_from_the_window_says_old_and_new_and_the_strip_shows_the_pin(desktop: Desktop) -> None:
    pid = _pinned(desktop, "alpha")
    window = desktop.window
    window.select_project(pid)
    assert window.detail.commit.text() == "0123456"
    menu = build_project_menu(window, 1)
    action = next(a for a in menu.actions() if a.text() == "Update CommandCenter")
    assert action.isEnabled()
    action.trigger()
    desktop.qtbot.waitUntil(lambda: "→" in window.statusBar().currentMessage(), timeout=30000)
    new = desktop.controller.store.get(pid).source_commit
    assert new is not None and new != OLD
    assert window.statusBar().currentMessage() == f"CommandCenter for 'alpha': 0123456 → {new[:7]}{NOT_VERIFIED}"
    assert window.detail.commit.text() == new[:7]
    assert f"0123456 → {new[:7]}{NOT_VERIFIED}" in desktop.controller.orchestrator.log(pid).text()


def test_update_from_the_tray_notifies_old_and_new(desktop: Desktop) -> None:
    pid = _pinned(desktop, "alpha")
    desktop.click("alpha — Stopped", "Update CommandCenter")
    desktop.qtbot.waitUntil(lambda: any(m[0] == "CommandCenter update" for m in desktop.messages), timeout=30000)
    text = next(m[1] for m in desktop.messages if m[0] == "CommandCenter update")
    new = desktop.controller.store.get(pid).source_commit
    assert new is not None and text == f"CommandCenter for 'alpha': 0123456 → {new[:7]}{NOT_VERIFIED}"
