"""Each row's own controls, found by their accessible names, against the real orchestrator and the fake engine;
the context menu, multi-select with bulk actions, and the filter."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from cchub_desktop.store import ProjectStatus

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

import pytest

pytest_plugins = ["tests.gui_fixtures"]

START_TIMEOUT = 60_000


class UrlCatcher(QObject):
    """What the app asked the desktop to open (QDesktopServices.setUrlHandler)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def catch(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def opened_urls() -> Iterator[UrlCatcher]:
    catcher = UrlCatcher()
    for scheme in ("http", "file"):
        QDesktopServices.setUrlHandler(scheme, catcher, "catch")
    try:
        yield catcher
    finally:
        for scheme in ("http", "file"):
            QDesktopServices.unsetUrlHandler(scheme)


def control(window: QWidget, name: str) -> QAbstractButton:
    found = [w for w in window.findChildren(QAbstractButton) if w.accessibleName() == name and w.isVisible()]
    assert len(found) == 1, f"{len(found)} visible controls named {name!r}"
    return found[0]


def wait_control(hub: GuiHub, name: str, timeout: int = 5000) -> QAbstractButton:
    def present() -> bool:
        return any(w.accessibleName() == name and w.isVisible() for w in hub.window.findChildren(QAbstractButton))
    hub.qtbot.waitUntil(present, timeout=timeout)
    return control(hub.window, name)


def status_of(hub: GuiHub, pid: int) -> ProjectStatus | None:
    row = hub.window.model.row_for(pid)
    return row.status if row else None


def test_the_row_toggle_starts_open_opens_the_frontend_and_the_toggle_stops(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path,
        opened_urls: UrlCatcher, tmp_path: Path) -> None:
    hub = gui_hub
    other = tmp_path / "other"
    other.mkdir()
    pid = hub.add_project("Acme", project_dir)
    hub.add_project("Bystander", other)  # selected: the row's own controls act on their row, not the selection
    opener = wait_control(hub, "Open Acme in browser")
    assert not opener.isEnabled()  # nothing answers yet

    qtbot.mouseClick(wait_control(hub, "Start Acme"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STARTING, timeout=2000)
    moving = control(hub.window, "Cancel starting Acme")
    assert moving.isEnabled() and moving.text() == "Cancel"  # a start can be cancelled from its row
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    qtbot.waitUntil(lambda: control(hub.window, "Open Acme in browser").isEnabled(), timeout=2000)
    assert control(hub.window, "Start Bystander").isEnabled()

    qtbot.mouseClick(control(hub.window, "Open Acme in browser"), Qt.MouseButton.LeftButton)
    port = hub.store.get(pid).frontend_port
    assert opened_urls.urls == [f"http://localhost:{port}"]

    stop = control(hub.window, "Stop Acme")
    assert stop.isEnabled() and stop.isChecked()
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    qtbot.waitUntil(lambda: not control(hub.window, "Open Acme in browser").isEnabled(), timeout=2000)
    assert control(hub.window, "Start Acme").isEnabled()
    fake_dagger_env.sessions_exited(timeout=10)



def test_the_row_toggle_cancels_a_start_and_nothing_is_left_running(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    fake_dagger_env.set(exec_delay=60)   # a first build that takes minutes
    pid = hub.add_project("Slow", project_dir)
    qtbot.mouseClick(wait_control(hub, "Start Slow"), Qt.MouseButton.LeftButton)
    clicked = time.monotonic()
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STARTING, timeout=2000)
    qtbot.waitUntil(lambda: (row := hub.window.model.row_for(pid)) is not None
                    and row.status_text() == "Starting: backend build", timeout=START_TIMEOUT)
    # a second click within the double-click interval is the same request (MainWindow.toggle_project)
    qtbot.waitUntil(lambda: time.monotonic() - clicked > QApplication.doubleClickInterval() / 1000, timeout=5000)
    cancel = wait_control(hub, "Cancel starting Slow")
    assert cancel.isEnabled() and cancel.text() == "Cancel"
    assert cancel.toolTip().startswith("Starting: ") and "cancel" in cancel.toolTip()
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    assert wait_control(hub, "Start Slow").isEnabled()
    fake_dagger_env.sessions_exited(timeout=30)
    assert fake_dagger_env.journal.running_services() == []


def test_a_rows_controls_select_their_row_and_its_more_menu_has_the_context_menus_actions(
        gui_hub: GuiHub, qtbot: QtBot, tmp_path: Path) -> None:
    hub = gui_hub
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    pid = hub.add_project("First", first)
    other = hub.add_project("Second", second)            # selected now
    assert hub.window.selected_id() == other
    hub.window.row_controls.fill_visible()
    controls = hub.window.row_controls.controls_for(pid)
    assert controls is not None
    assert not controls.findChildren(QMenu)               # built when first opened: none on an idle row
    qtbot.mousePress(controls.more, Qt.MouseButton.LeftButton)   # the ⋯ button pops its menu up at the press
    menu = controls.more_menu()
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    assert controls.more.isDown()
    assert hub.window.selected_id() == pid
    entries = {a.text(): a for a in menu.actions() if not a.isSeparator()}
    menu.hide()
    assert not controls.more.isDown()
    for words in ("Open API docs", "Open project folder", "Edit…", "Back up database", "Remove…"):
        assert words in entries, entries.keys()
    assert entries["Edit…"].isEnabled() and entries["Remove…"].isEnabled()
    entries["Edit…"].trigger()
    qtbot.waitUntil(lambda: hub.window.project_dialog is not None, timeout=2000)
    assert hub.window.project_dialog is not None and hub.window.project_dialog.name_edit.text() == "First"
    hub.window.project_dialog.reject()

    hub.window.select_project(other)
    qtbot.mouseClick(wait_control(hub, "Start First"), Qt.MouseButton.LeftButton)
    assert hub.window.selected_id() == pid                # the row whose Start was clicked is the one shown
    qtbot.waitUntil(lambda: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)


def test_every_starting_phase_fits_the_status_column(gui_hub: GuiHub, project_dir: Path) -> None:
    from cchub_desktop.lifecycle_events import PHASE_WORDS
    from cchub_desktop.ui.project_table_model import Column, ProjectRow

    window = gui_hub.window
    pid = gui_hub.add_project("Fits", project_dir)
    project = window.model.row_for(pid).project  # type: ignore[union-attr]
    width = window.table.columnWidth(Column.STATUS)
    metrics = window.table.fontMetrics()
    for phase in [*PHASE_WORDS, "backend_build|pip: downloading torch · 1:12 · first build: several minutes"]:
        row = ProjectRow(project, ProjectStatus.STARTING, phase)
        assert metrics.horizontalAdvance(row.status_text()) + 30 <= width, row.status_text()  # + dot, margins
        assert row.status_full_text().startswith(row.status_text().split(":")[0])


def test_bulk_start_and_stop_act_on_every_selected_row(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                                       tmp_path: Path) -> None:
    hub = gui_hub
    ids = []
    for name in ("alpha", "bravo", "charlie"):
        folder = tmp_path / name
        folder.mkdir()
        ids.append(hub.add_project(name, folder))
    hub.window.select_project(ids[0])
    qtbot.keyClick(hub.window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # alpha and bravo
    assert [r.project.name for r in hub.window.selected_rows()] == ["alpha", "bravo"]
    assert hub.window.start_many_action.text() == "Start 2 selected"
    hub.window.start_many_action.trigger()
    for pid in ids[:2]:
        qtbot.waitUntil(lambda pid=pid: status_of(hub, pid) == ProjectStatus.RUNNING, timeout=START_TIMEOUT)
    assert status_of(hub, ids[2]) == ProjectStatus.STOPPED  # not selected, not started
    assert hub.window.stop_many_action.isEnabled()
    hub.window.stop_many_action.trigger()
    for pid in ids[:2]:
        qtbot.waitUntil(lambda pid=pid: status_of(hub, pid) == ProjectStatus.STOPPED, timeout=START_TIMEOUT)
    fake_dagger_env.sessions_exited(timeout=10)


def test_bulk_back_up_saves_one_dump_per_selected_project(gui_hub: GuiHub, qtbot: QtBot,
                                                          fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    hub = gui_hub
    ids = []
    for name in ("left", "right"):
        folder = tmp_path / name
        folder.mkdir()
        ids.append(hub.add_project(name, folder))
    hub.window.table.selectAll()
    assert hub.window.backup_many_action.isEnabled()
    hub.window.backup_many_action.trigger()
    backups = hub.paths.backups_dir
    # one dump per project (each with its passwords' copy beside it, *.secrets.json)
    qtbot.waitUntil(lambda: len(list(backups.rglob("*.sql"))) == 2
                    and len(list(backups.rglob("*.secrets.json"))) == 2, timeout=START_TIMEOUT)
    qtbot.waitUntil(lambda: not hub.orchestrator.is_busy(), timeout=START_TIMEOUT)


def test_the_context_menu_has_every_project_action(gui_hub: GuiHub, qtbot: QtBot, project_dir: Path,
                                                   tmp_path: Path) -> None:
    hub = gui_hub
    hub.add_project("menu me", project_dir)
    index = hub.window.proxy.index(0, 0)
    pos = hub.window.table.visualRect(index).center()
    hub.window.table.customContextMenuRequested.emit(pos)
    menu = hub.window.context_menu
    assert menu is not None
    words = [a.text() for a in menu.actions() if not a.isSeparator()]
    for expected in ("Start", "Open", "Open API docs", "Open project folder", "Edit…", "Back up database",
                     "Remove…"):
        assert expected in words
    menu.close()
    other = tmp_path / "second"
    other.mkdir()
    hub.add_project("second", other)
    hub.window.table.selectAll()
    hub.window.table.customContextMenuRequested.emit(pos)
    menu = hub.window.context_menu
    assert menu is not None
    assert "Start 2 selected" in [a.text() for a in menu.actions()]
    menu.close()


def test_the_folder_control_opens_the_project_folder(gui_hub: GuiHub, project_dir: Path,
                                                     opened_urls: UrlCatcher) -> None:
    gui_hub.add_project("folder", project_dir)
    gui_hub.window.folder_action.trigger()
    assert opened_urls.urls == [QUrl.fromLocalFile(str(project_dir)).toString()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-mime is the Linux desktop's")
def test_a_folder_handed_to_a_desktop_that_names_no_file_manager_says_where_it_is(
        gui_hub: GuiHub, project_dir: Path, opened_urls: UrlCatcher, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "xdg-mime"
    tool.write_text("#!/bin/sh\nexit 0\n")          # no default application for inode/directory
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    gui_hub.add_project("folder", project_dir)
    gui_hub.window.folder_action.trigger()
    assert opened_urls.urls == [QUrl.fromLocalFile(str(project_dir)).toString()]   # handed over all the same
    assert "the path is copied to the clipboard" in gui_hub.window.statusBar().currentMessage()
    assert QGuiApplication.clipboard().text() == str(project_dir)
    tool.write_text("#!/bin/sh\necho org.gnome.Nautilus.desktop\n")   # a desktop with a file manager
    gui_hub.window.statusBar().clearMessage()
    gui_hub.window.folder_action.trigger()
    assert gui_hub.window.statusBar().currentMessage() == ""


def test_a_folder_that_cannot_be_opened_says_what_to_do_not_to_read_the_log(
        gui_hub: GuiHub, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = gui_hub.window
    folder = tmp_path / "kept"
    folder.mkdir()
    gui_hub.add_project("kept", folder)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda _url: False)   # no file manager on this desktop
    window.folder_action.trigger()
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    assert window.error_box is not None
    assert "Its path is copied to the clipboard" in window.error_box.text()
    assert "log pane" not in window.error_box.informativeText()
    assert QGuiApplication.clipboard().text() == str(folder)
    window.error_box.close()

    folder.rmdir()   # moved away since it was added
    window.folder_action.trigger()
    qtbot.waitUntil(lambda: window.error_box is not None and "is gone" in window.error_box.text())
    assert "Edit the project" in window.error_box.text()


def test_a_filter_that_matches_nothing_says_so_and_show_all_clears_it(gui_hub: GuiHub, qtbot: QtBot,
                                                                       tmp_path: Path) -> None:
    hub = gui_hub
    for name in ("Billing", "Blog"):
        (tmp_path / name).mkdir()
        hub.add_project(name, tmp_path / name)
    bar = hub.window.filter_bar
    assert bar.no_match.isHidden()
    qtbot.keyClicks(bar.text, "zzz")
    assert hub.window.proxy.rowCount() == 0
    assert not bar.no_match.isHidden() and "None of 2 projects match" in bar.no_match.text()
    bar.no_match.linkActivated.emit("clear")
    assert bar.text.text() == "" and hub.window.proxy.rowCount() == 2 and bar.no_match.isHidden()
    bar.status.setCurrentText("Running")              # nothing runs: the state filter says so too
    assert not bar.no_match.isHidden()


def test_the_filter_matches_name_or_folder_and_state(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                                     tmp_path: Path) -> None:
    hub = gui_hub
    for name, folder in (("Billing", "acme-billing"), ("Blog", "site"), ("Shop", "acme-shop")):
        path = tmp_path / folder
        path.mkdir()
        hub.add_project(name, path)
    failed_id = hub.store.get_by_name("Shop").id
    assert failed_id is not None

    def shown() -> list[str]:
        proxy = hub.window.proxy
        return sorted(str(proxy.index(r, 0).data()) for r in range(proxy.rowCount()))

    qtbot.keyClicks(hub.window.filter_bar.text, "acme")
    assert shown() == ["Billing", "Shop"]  # by folder
    hub.window.filter_bar.text.clear()
    qtbot.keyClicks(hub.window.filter_bar.text, "BLO")
    assert shown() == ["Blog"]  # by name, any case
    qtbot.waitUntil(lambda: len(hub.window.row_controls.all_controls()) >= 1, timeout=2000)
    assert control(hub.window, "Start Blog").isVisible()
    hub.window.filter_bar.text.clear()
    assert shown() == ["Billing", "Blog", "Shop"]
    fake_dagger_env.set(exit_at_start=1)  # no engine: the start fails
    hub.bridge.start(failed_id)
    qtbot.waitUntil(lambda: status_of(hub, failed_id) == ProjectStatus.ERROR, timeout=START_TIMEOUT)
    hub.window.filter_bar.status.setCurrentText("Failed")
    assert shown() == ["Shop"]
    hub.window.filter_bar.status.setCurrentText("Stopped")
    assert shown() == ["Billing", "Blog"]


def test_the_grey_status_dot_stands_out_on_a_selected_row(qtbot: QtBot) -> None:
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from cchub_desktop.ui.project_table_model import status_icon

    image = status_icon(ProjectStatus.STOPPED, 16).pixmap(16, 16).toImage()
    highlight = QApplication.palette().color(QPalette.ColorRole.Highlight)

    def contrast(c: QColor) -> float:
        return abs(c.lightnessF() - highlight.lightnessF())
    ring = max((image.pixelColor(x, 8) for x in range(0, 4)), key=lambda c: c.alpha() * contrast(c))
    assert ring.alpha() > 128 and contrast(ring) > 0.3  # a visible edge against the selection colour
