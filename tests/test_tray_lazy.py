"""The tray menu costs nothing until it opens, and each project's submenu is filled when it opens; where the menu
is exported over D-Bus (a host that may never say a submenu opens) it is built whole, up front."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui import tray as tray_module
from cchub_desktop.ui.tray_menu import MAX_INLINE_PROJECTS, TrayCallbacks, TrayEntry, TrayMenuBuilder
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


def callbacks(triggered: list[tuple[str, int | None]] | None = None) -> TrayCallbacks:
    seen = triggered if triggered is not None else []

    def per(what: str) -> Callable[[int], None]:
        return lambda pid: seen.append((what, pid))

    def plain(what: str) -> Callable[[], None]:
        return lambda: seen.append((what, None))

    return TrayCallbacks(start=per("start"), stop=per("stop"), open_in_browser=per("open"), show_project=per("show"),
                         start_all=plain("start_all"), stop_all=plain("stop_all"), show_window=plain("show_window"),
                         add_project=plain("add_project"), open_settings=plain("open_settings"), quit=plain("quit"),
                         backup=per("backup"), update_source=per("update"), restart=per("restart"),
                         restart_service=lambda pid, name: seen.append((f"restart-service:{name}", pid)))


def entries(count: int, running: tuple[int, ...] = ()) -> list[TrayEntry]:
    return [TrayEntry(i, f"p{i:03d}", S.RUNNING if i in running else S.STOPPED, f"http://localhost:{9000 + i}")
            for i in range(1, count + 1)]


def line(menu: QMenu, text: str) -> QMenu:
    found = [a.menu() for a in menu.actions() if a.text() == text]
    assert found and isinstance(found[0], QMenu), [a.text() for a in menu.actions()]
    return found[0]


def texts(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def test_a_project_submenu_gets_its_actions_when_it_opens(qapp: QApplication) -> None:
    menu = QMenu()
    builder = TrayMenuBuilder(callbacks(), lazy=True)
    builder.rebuild(menu, entries(3, running=(2,)))
    stopped, running = line(menu, "p001 — Stopped"), line(menu, "p002 — Running")
    assert stopped.actions() == [] and running.actions() == []   # the lines only: title, icon, tooltip
    assert not running.menuAction().icon().isNull()
    running.aboutToShow.emit()
    assert texts(running) == ["Stop", "Open in browser", "Restart", "Restart service", "Back up database",
                              "Update CommandCenter", "Show in window"]
    running.aboutToShow.emit()   # opened again: filled once
    assert len(texts(running)) == 7
    assert stopped.actions() == []
    # a state change while the menu is open: the opened submenu follows in place, the other line too
    builder.update(2, S.STOPPING, None, None)
    builder.update(1, S.ERROR, None, "it failed")
    assert texts(running) == ["Stopping…", "Show in window"]
    failed = line(menu, "p001 — Failed")
    assert failed.menuAction().toolTip() == "it failed"
    failed.aboutToShow.emit()   # filled from the latest state when it opens
    assert texts(failed) == ["Start", "Back up database", "Update CommandCenter", "Show in window"]
    menu.deleteLater()


def test_the_overflow_submenu_makes_its_lines_when_it_opens(qapp: QApplication) -> None:
    menu = QMenu()
    triggered: list[tuple[str, int | None]] = []
    builder = TrayMenuBuilder(callbacks(triggered), lazy=True)
    count = MAX_INLINE_PROJECTS + 490
    builder.rebuild(menu, entries(count, running=(7,)))
    overflow = line(menu, f"Projects ({count}, 1 running)")
    assert overflow.actions() == []
    assert len(menu.findChildren(QMenu)) == 1   # 500 projects: one submenu until it opens
    builder.update(9, S.RUNNING, None, None)   # a state change before it opens: its lines are made from it
    overflow.aboutToShow.emit()
    assert texts(overflow)[:2] == ["p007 — Running", "p009 — Running"]
    assert len(texts(overflow)) == count
    assert all(sub.actions() == [] for sub in overflow.findChildren(QMenu))   # each filled when it opens
    p9 = line(overflow, "p009 — Running")
    p9.aboutToShow.emit()
    next(a for a in p9.actions() if a.text() == "Stop").trigger()
    assert triggered == [("stop", 9)]   # the root menu's dispatch sees actions made later, deep down
    menu.deleteLater()


def test_the_menu_is_built_up_front_only_where_it_is_exported_over_dbus(
        desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (f"p{i:02d}" for i in range(MAX_INLINE_PROJECTS + 2)):
        desktop.add_project(name)
    trays = {}
    for over_dbus in (False, True):
        monkeypatch.setattr(tray_module, "menu_exported_over_dbus", lambda d=over_dbus: d)
        trays[over_dbus] = tray_module.TrayIcon(
            desktop.store, desktop.controller.bridge, show_window=lambda: None, show_project=lambda _pid: None,
            add_project=lambda: None, open_settings=lambda: None, quit=lambda: None)
    try:
        # a real menu (Windows, macOS, XEmbed trays): nothing is built until it opens, so an idle app holds
        # one empty QMenu, however many projects there are
        real = trays[False]
        assert real.menu.actions() == [] and real.menu.findChildren(QMenu) == []
        real.menu.aboutToShow.emit()
        assert texts(real.menu)[1] == "Projects (12)"
        # a D-Bus host may read the layout without AboutToShow: every line and its actions are there already
        exported = trays[True]
        overflow = line(exported.menu, "Projects (12)")
        assert texts(line(overflow, "p03 — Stopped")) == ["Start", "Show in window"]
        exported.menu.aboutToShow.emit()   # and rebuilt whole at each opening
        overflow = line(exported.menu, "Projects (12)")
        assert all(sub.actions() for sub in overflow.findChildren(QMenu))
    finally:
        for tray in trays.values():
            tray.hide()
            tray.deleteLater()


def test_qt_itself_fills_a_submenu_opened_from_the_keyboard(qapp: QApplication, qtbot: QtBot) -> None:
    """No test emits aboutToShow here: Qt's popup of the submenu does."""
    menu = QMenu()
    builder = TrayMenuBuilder(callbacks(), lazy=True)
    menu.aboutToShow.connect(lambda: builder.rebuild(menu, entries(2)))
    menu.popup(QPoint(100, 100))
    try:
        qtbot.waitUntil(menu.isVisible)
        sub = line(menu, "p002 — Stopped")
        assert sub.actions() == []
        menu.setActiveAction(sub.menuAction())
        QTest.keyClick(menu, Qt.Key.Key_Right)
        qtbot.waitUntil(sub.isVisible)
        assert texts(sub) == ["Start", "Back up database", "Update CommandCenter", "Show in window"]
    finally:
        menu.hide()
        menu.deleteLater()


WATCHER = textwrap.dedent("""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtDBus import QDBusConnection
    from cchub_desktop.ui.tray_host import STATUS_NOTIFIER_WATCHER, status_notifier_watcher_registered
    app = QCoreApplication([])
    before = status_notifier_watcher_registered()
    assert QDBusConnection.sessionBus().registerService(STATUS_NOTIFIER_WATCHER)   # a tray host starts
    print(before, status_notifier_watcher_registered())
""")


@pytest.mark.skipif(shutil.which("dbus-run-session") is None, reason="needs dbus-run-session (a private bus)")
def test_a_dbus_tray_is_told_by_the_status_notifier_watcher_as_qt_tells_it(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    on_bus = subprocess.run(["dbus-run-session", "--", sys.executable, "-c", WATCHER], capture_output=True,
                            text=True, timeout=60, env=env)
    assert on_bus.returncode == 0, on_bus.stderr
    assert on_bus.stdout.split() == ["False", "True"]
    no_bus = {k: v for k, v in env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    no_bus["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus'}"
    alone = subprocess.run([sys.executable, "-c", "from cchub_desktop.ui.tray_host import "
                            "status_notifier_watcher_registered as f; print(f())"], capture_output=True, text=True,
                           timeout=60, env=no_bus)
    assert alone.returncode == 0 and alone.stdout.split() == ["False"], alone.stderr
