"""Closing the window (to the tray, or quitting without one) and Quit: ask once, stop everything, exit 0."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QApplication, QMessageBox

from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.tray_fixtures import Desktop, find_box

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


def wait_box(hub: Desktop, name: str) -> QMessageBox:
    hub.qtbot.waitUntil(lambda: find_box(name) is not None)
    box = find_box(name)
    assert box is not None
    return box


def press(box: QMessageBox, text: str) -> None:
    [button] = [b for b in box.buttons() if b.text().replace("&", "") == text]
    button.click()


def start(hub: Desktop, *names: str) -> list[int]:
    ids = [hub.add_project(name) for name in names]
    for name, pid in zip(names, ids, strict=True):
        hub.click(f"{name} — Stopped", "Start")
        hub.wait_status(pid, S.RUNNING)
    return ids


def saved_settings(hub: Desktop) -> dict[str, object]:
    return dict(json.loads(hub.controller.paths.settings_file.read_text()))


# ----- close ---------------------------------------------------------------------------------------------------

def test_closing_hides_to_the_tray_and_says_so_once(desktop: Desktop) -> None:
    [pid] = start(desktop, "alpha")
    desktop.window.close()
    assert not desktop.window.isVisible()
    box = wait_box(desktop, "close_to_tray_hint")
    assert "keeps running in the system tray" in box.text()
    assert box.checkBox().isChecked()  # "Don't show this again"
    press(box, "OK")
    assert saved_settings(desktop)["close_to_tray_hint_shown"] is True
    assert desktop.status(pid) == S.RUNNING  # the projects keep running
    desktop.click("Show window")
    desktop.window.close()
    assert not desktop.window.isVisible()
    assert find_box("close_to_tray_hint") is None
    assert not desktop.controller._done.done()


def test_the_hint_comes_back_when_the_user_wants_it(desktop: Desktop) -> None:
    desktop.window.close()
    box = wait_box(desktop, "close_to_tray_hint")
    box.checkBox().setChecked(False)
    press(box, "OK")
    assert not desktop.controller.paths.settings_file.exists() or \
        saved_settings(desktop)["close_to_tray_hint_shown"] is False
    desktop.click("Show window")
    desktop.window.close()
    wait_box(desktop, "close_to_tray_hint")


def test_without_a_tray_closing_quits_after_the_same_question(desktop: Desktop) -> None:
    desktop.set_tray(False)
    ids = start(desktop, "alpha", "beta")
    desktop.window.close()
    box = wait_box(desktop, "quit_confirm")
    assert box.text().startswith("2 projects running. Stop them, or leave them running?")
    press(box, "Cancel")
    assert desktop.window.isVisible()
    assert all(desktop.status(pid) == S.RUNNING for pid in ids)
    desktop.window.close()
    press(wait_box(desktop, "quit_confirm"), "Stop and quit")
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=60) == 0
    assert all(desktop.status(pid) == S.STOPPED for pid in ids)
    assert all(desktop.ports_free(pid) for pid in ids)
    assert not desktop.window.isVisible()
    desktop.fake.sessions_exited()


def test_without_a_tray_closing_with_nothing_running_quits_at_once(desktop: Desktop) -> None:
    desktop.set_tray(False)
    desktop.add_project("alpha")
    desktop.window.close()
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=30) == 0
    assert find_box("quit_confirm") is None


# ----- quit ----------------------------------------------------------------------------------------------------

def test_quit_asks_once_then_stops_everything_and_exits_0(desktop: Desktop) -> None:
    ids = start(desktop, "alpha", "beta")
    desktop.window.hide()
    desktop.click("Quit")
    desktop.click("Quit")  # a second Quit while asking: still one question
    box = wait_box(desktop, "quit_confirm")
    assert box.text().startswith("2 projects running. Stop them, or leave them running?")
    assert len([w for w in QApplication.topLevelWidgets()
                if w.objectName() == "quit_confirm" and w.isVisible()]) == 1
    press(box, "Stop and quit")
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=60) == 0
    assert all(desktop.status(pid) == S.STOPPED for pid in ids)
    assert all(desktop.ports_free(pid) for pid in ids)
    assert desktop.fake.journal.running_services() == []
    desktop.fake.sessions_exited()


def test_quit_with_nothing_running_does_not_ask(desktop: Desktop) -> None:
    desktop.add_project("alpha")
    desktop.click("Quit")
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=30) == 0
    assert find_box("quit_confirm") is None


def test_quit_cancels_a_start_in_flight_cleanly(desktop: Desktop) -> None:
    desktop.fake.set(start_delay=60)  # the first service start hangs
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.qtbot.waitUntil(lambda: desktop.controller.orchestrator.phase(pid) in ("postgres", "redis", "backend",
                                                                                  "frontend", "tunnels"),
                            timeout=30000)
    desktop.click("Quit")
    box = wait_box(desktop, "quit_confirm")
    assert box.text().startswith("1 project running. Stop it, or leave it running?")
    press(box, "Stop and quit")
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=60) == 0
    assert desktop.status(pid) == S.STOPPED
    assert desktop.ports_free(pid)
    desktop.fake.sessions_exited()
    assert desktop.fake.journal.open_tunnels() == []


def test_while_quitting_the_menu_only_says_so(desktop: Desktop) -> None:
    start(desktop, "alpha")
    desktop.controller.begin_quit(0)
    desktop.qtbot.waitUntil(lambda: desktop.tray.quitting)
    assert desktop.menu_texts() == ["Stopping every project…"]
    assert desktop.tray.tooltip() == "CommandCenter Hub\nStopping every project…"
    assert desktop.aio.run(desktop.controller.wait_done(), timeout=60) == 0
