"""End to end: the real `cchub-desktop` under Xvfb with a tray host, driven from its tray icon.

The icon docks in trayer; the menu opened by a click starts a project (its frontend answers), stops it, and
Quit exits 0 with every port free. A second launch raises the hidden window and exits 0. Screenshots of the
open menu go to test-artifacts/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fake_dagger.fixtures import FakeDagger, free_port_block

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStore
from tests.e2e.virtual_desktop import SCREEN, VirtualDesktop, Window, wait_until
from tests.helpers import LineReader

pytestmark = pytest.mark.e2e
APP = "cchub-desktop"
ENTRY_POINT = Path(sys.executable).with_name(APP)


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class TrayDriver:
    """Opens the tray menu with a click on the icon and walks it with the keyboard, as a user would."""

    def __init__(self, desk: VirtualDesktop, icon: Window) -> None:
        self.desk = desk
        self.icon = icon

    def popups(self) -> set[int]:
        return {w.id for w in self.desk.visible(APP) if w.height > 40 and w.y < 300 and w.width < 700}

    def open_menu(self) -> None:
        before = self.popups()
        self.desk.click(*self.icon.bottom_centre, button=3)
        wait_until(lambda: bool(self.popups() - before), 15, "the tray menu to open")
        self.desk.move_mouse(200, 700)  # away from the menu: only the keyboard selects from here

    def open_submenu(self) -> None:
        before = self.popups()
        self.desk.key("Right")
        wait_until(lambda: bool(self.popups() - before), 10, "the project's submenu to open")

    def menu_area(self) -> tuple[int, int, int, int]:
        """x, y, width, height of the open menus and the icon, with a margin (for a cropped screenshot)."""
        menus = [w for w in self.desk.visible(APP) if w.id in self.popups()] + [self.icon]
        left = max(0, min(w.x for w in menus) - 40)
        bottom = max(w.y + w.height for w in menus) + 40
        return left, 0, SCREEN[0] - left, bottom

    def close_menus(self) -> None:
        wait_until(lambda: not self.popups(), 10, "the menus to close")


def launch(desk: VirtualDesktop, fake: FakeDagger, *args: str) -> subprocess.Popen[str]:
    env = {**desk.env, **fake.env(), "CCHUB_HOME": str(app_paths().data_dir.parent)}
    return subprocess.Popen([str(ENTRY_POINT), "--no-engine-check", *args], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_tray_start_stop_and_quit(virtual_desktop: VirtualDesktop, fake_dagger_env: FakeDagger,
                                  tmp_path: Path) -> None:
    desk = virtual_desktop
    paths = app_paths()
    paths.ensure()
    # Into the tray at launch (the window stays hidden); no "stopped" notification: without a notification
    # daemon Qt shows notifications as balloons over the tray, where they would take the next click.
    AppSettings(start_minimized=True, notify_stopped=False).save(paths.settings_file)
    store = ProjectStore(paths.db_file)
    blocks = {}
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir()
        block = free_port_block()
        store.add(name, tmp_path / name, backend_port=block.backend, frontend_port=block.frontend,
                  postgres_port=block.postgres, redis_port=block.redis)
        blocks[name] = block
    store.close()
    alpha = blocks["alpha"]

    app = launch(desk, fake_dagger_env)
    assert app.stderr is not None
    log = LineReader(app.stderr)
    try:
        wait_until(lambda: bool(desk.tray_icons(APP)) or app.poll() is not None, 60, "the tray icon to dock")
        [icon] = desk.tray_icons(APP)
        assert icon.y < 30 and icon.width <= 32, icon  # in trayer's panel at the top of the screen
        assert not [w for w in desk.visible(APP) if w.width > 600], "started minimized: no window"
        tray = TrayDriver(desk, icon)

        # Start alpha: menu -> "alpha — Stopped" -> Start
        tray.open_menu()
        desk.screenshot("tray-menu-stopped.png")
        desk.key("Down")  # the first project line (the summary line above it is disabled)
        tray.open_submenu()
        desk.key("Return")  # "Start"
        tray.close_menus()
        wait_until(lambda: answers(alpha.frontend), 60, "alpha's frontend to answer")
        assert answers(alpha.backend)
        # "alpha is running" shows as a balloon next to the icon, then goes away by itself
        wait_until(lambda: bool(tray.popups()), 10, "the 'running' notification")
        desk.screenshot("tray-notification.png")
        wait_until(lambda: not tray.popups(), 20, "the notification to go away")

        # A second launch raises the hidden window and exits 0 at once
        second = launch(desk, fake_dagger_env)
        _out, second_err = second.communicate(timeout=60)
        assert second.returncode == 0, second_err
        assert "already running" in second_err
        wait_until(lambda: any(w.width > 600 for w in desk.visible(APP)), 20, "the window to be raised")
        desk.screenshot("window-raised.png")

        # The menu now shows alpha running; its submenu offers Stop and Open in browser
        tray.open_menu()
        desk.key("Down")
        tray.open_submenu()
        desk.screenshot("tray-menu.png")
        desk.screenshot("tray-menu-crop.png", crop=tray.menu_area())
        desk.key("Return")  # "Stop", the first entry of a running project
        tray.close_menus()
        wait_until(lambda: ports.is_port_free(alpha.frontend) and ports.is_port_free(alpha.backend), 60,
                   "alpha's ports to be released")

        # Quit: the last entry of the menu
        tray.open_menu()
        desk.key("Up")
        desk.key("Return")
        code = app.wait(timeout=60)
    except BaseException:
        desk.screenshot("failure.png")
        raise
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(timeout=60)
        log.join()
    assert code == 0, log.text()
    for block in blocks.values():
        for port in block.as_dict().values():
            assert ports.is_port_free(port), port
    fake_dagger_env.sessions_exited()
    assert [s for s in fake_dagger_env.journal.sessions() if not s.ended_cleanly] == []
    assert not desk.tray_icons(APP)  # the icon left with the app


def test_quit_from_the_tray_asks_once_even_with_the_window_hidden(virtual_desktop: VirtualDesktop,
                                                                  fake_dagger_env: FakeDagger,
                                                                  tmp_path: Path) -> None:
    desk = virtual_desktop
    paths = app_paths()
    paths.ensure()
    AppSettings(start_minimized=True, notify_running=False).save(paths.settings_file)
    store = ProjectStore(paths.db_file)
    (tmp_path / "alpha").mkdir()
    block = free_port_block()
    store.add("alpha", tmp_path / "alpha", backend_port=block.backend, frontend_port=block.frontend,
              postgres_port=block.postgres, redis_port=block.redis)
    store.close()

    app = launch(desk, fake_dagger_env, "--start", "alpha")
    assert app.stderr is not None
    log = LineReader(app.stderr)
    try:
        wait_until(lambda: bool(desk.tray_icons(APP)) or app.poll() is not None, 60, "the tray icon to dock")
        wait_until(lambda: answers(block.frontend), 60, "alpha's frontend to answer")
        [icon] = desk.tray_icons(APP)
        tray = TrayDriver(desk, icon)
        tray.open_menu()
        desk.key("Up", "Return")  # Quit
        # the question shows although the window stays hidden in the tray
        wait_until(lambda: any(w.y > 100 and w.width < 600 for w in desk.visible(APP)), 20, "the question")
        desk.screenshot("tray-quit-question.png")
        assert answers(block.frontend)  # nothing stopped before the answer
        desk.key("Return")  # "Stop and quit" is the default button
        code = app.wait(timeout=60)
    except BaseException:
        desk.screenshot("failure-quit.png")
        raise
    finally:
        if app.poll() is None:
            app.terminate()
            app.wait(timeout=60)
        log.join()
    assert code == 0, log.text()
    assert all(ports.is_port_free(p) for p in block.as_dict().values())
    fake_dagger_env.sessions_exited()
    assert fake_dagger_env.journal.running_services() == []
