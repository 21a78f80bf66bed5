"""Window actions besides start/stop: remove (with and without the data), edit while running, the engine
status line, and the rows' words and colours — against the real orchestrator and the fake engine."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from cchub_desktop.stack.secrets_store import load_or_create, secrets_file
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import STATUS_COLOURS, Column

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]


def press(hub: GuiHub, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    hub.window.activateWindow()
    hub.qtbot.waitUntil(hub.window.isActiveWindow, timeout=2000)
    hub.qtbot.keyClick(hub.window.table, key, modifier)


def test_delete_asks_and_cancel_keeps_the_project(gui_hub: GuiHub, qtbot: QtBot, project_dir: Path) -> None:
    pid = gui_hub.add_project("keep me", project_dir)
    press(gui_hub, Qt.Key.Key_Delete)
    dialog = gui_hub.window.remove_dialog
    assert dialog is not None and dialog.isVisible()
    words = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "keep me" in words and f"Its folder {project_dir} is not touched" in words
    assert not dialog.delete_data.isChecked()  # keeping the data is the default
    dialog.reject()
    qtbot.waitUntil(lambda: gui_hub.window.remove_dialog is None, timeout=2000)
    assert [p.id for p in gui_hub.store.list()] == [pid]


def test_remove_with_data_deletes_volumes_and_secrets_but_never_the_folder(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    pid = gui_hub.add_project("gone", project_dir)
    slug = gui_hub.store.get(pid).data_key
    load_or_create(gui_hub.paths.secrets_dir, slug)
    press(gui_hub, Qt.Key.Key_Delete)
    dialog = gui_hub.window.remove_dialog
    assert dialog is not None
    dialog.delete_data.setChecked(True)
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gui_hub.window.model.rowCount() == 0, timeout=30_000)
    assert gui_hub.store.list() == []
    assert not secrets_file(gui_hub.paths.secrets_dir, slug).exists()
    assert [e for e in fake_dagger_env.journal.execs() if "-delete" in " ".join(e["command"])]
    assert (project_dir / "README.md").read_text() == "a user's project\n"
    assert gui_hub.window.empty_hint.isVisible()


def test_remove_with_data_without_an_engine_says_why_and_keeps_everything(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    fake_dagger_env.set(exit_at_start=1)
    pid = gui_hub.add_project("stays", project_dir)
    gui_hub.window.remove_action.trigger()
    dialog = gui_hub.window.remove_dialog
    assert dialog is not None
    dialog.delete_data.setChecked(True)
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: gui_hub.window.error_box is not None, timeout=30_000)
    box = gui_hub.window.error_box
    assert box is not None and "nothing was removed" in box.text() and "Docker" in box.text()
    assert [p.id for p in gui_hub.store.list()] == [pid]
    assert gui_hub.window.model.rowCount() == 1


def test_a_running_project_cannot_be_removed_and_edits_only_its_name(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    pid = gui_hub.add_project("busy", project_dir)
    gui_hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: gui_hub.orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)
    assert not gui_hub.window.remove_action.isEnabled()
    press(gui_hub, Qt.Key.Key_Delete)
    assert gui_hub.window.remove_dialog is None
    gui_hub.window.edit_action.trigger()
    dialog = gui_hub.window.project_dialog
    assert dialog is not None
    assert not dialog.path_edit.isEnabled() and not dialog.port_spins["frontend_port"].isEnabled()
    dialog.name_edit.setText("busy bee")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: gui_hub.window.model.row_for(pid) is not None
                    and gui_hub.window.model.row_for(pid).project.name == "busy bee", timeout=2000)  # type: ignore[union-attr]
    assert gui_hub.window.model.row_for(pid).status == ProjectStatus.RUNNING  # type: ignore[union-attr]


def test_rows_show_status_words_colours_and_phase(gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger,
                                                  project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=1)
    pid = gui_hub.add_project("shown", project_dir)
    model = gui_hub.window.model
    index = model.index(model.row_of(pid) or 0, Column.STATUS)
    assert index.data() == "Stopped"
    gui_hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: index.data() == "Starting: PostgreSQL", timeout=30_000)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "Starting: starting PostgreSQL"   # the full phase
    assert index.data(Qt.ItemDataRole.ForegroundRole) == QColor(STATUS_COLOURS[ProjectStatus.STARTING])
    qtbot.waitUntil(lambda: index.data() == "Running", timeout=60_000)
    assert index.data(Qt.ItemDataRole.ForegroundRole) == QColor(STATUS_COLOURS[ProjectStatus.RUNNING])
    ports_text = model.index(index.row(), Column.PORTS).data()
    assert str(gui_hub.store.get(pid).frontend_port) in ports_text and "exposed" not in ports_text


def test_engine_status_reports_a_remote_runner_and_its_fix(gui_hub: GuiHub, qtbot: QtBot) -> None:
    status = gui_hub.window.engine_status
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    gui_hub.orchestrator.settings.runner_host = f"tcp://127.0.0.1:{port}"
    try:
        qtbot.mouseClick(status.recheck_button, Qt.MouseButton.LeftButton)
        assert status.label.text() == "Engine: checking…" and not status.recheck_button.isEnabled()
        qtbot.waitUntil(lambda: not status.is_checking(), timeout=20_000)
        assert status.ok is True and f"tcp://127.0.0.1:{port}" in status.label.text()
    finally:
        listener.close()
    status.recheck()
    qtbot.waitUntil(lambda: not status.is_checking(), timeout=20_000)
    assert status.ok is False
    assert "does not answer" in status.label.text() and "Start the engine there" in status.label.text()
