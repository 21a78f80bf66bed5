"""Forms as a user meets them: one Save shows every broken rule, messages never move the buttons as the user
types, and "Change ports" opens on the taken port with a free one filled in (the window's flow:
test_ui_detail_strip.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.project_dialog import ProjectDialog
from tests.helpers import free_block_number, listen_on


@pytest.fixture
def store() -> Iterator[ProjectStore]:
    paths = app_paths()
    paths.ensure()
    s = ProjectStore(paths.db_file)
    yield s
    s.close()


def free_block() -> ports.PortBlock:
    return ports.block(free_block_number(start=random.randint(300, 5000), count=1))


def shown(qtbot: QtBot, dialog: ProjectDialog) -> ProjectDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def set_ports(dialog: ProjectDialog, block: ports.PortBlock) -> None:
    for field, value in block.as_dict().items():
        dialog.port_spins[f"{field}_port"].setValue(value)


def place(widget: QWidget, dialog: QWidget) -> QPoint:
    return widget.mapTo(dialog, QPoint(0, 0))


def test_one_save_shows_every_taken_port_beside_an_over_long_name(qtbot: QtBot, store: ProjectStore,
                                                                  project_dir: Path) -> None:
    dialog = shown(qtbot, ProjectDialog(store))
    block = free_block()
    set_ports(dialog, block)
    dialog.name_edit.setText("x" * 300)
    dialog.path_edit.setText(str(project_dir))
    with listen_on(block.frontend), listen_on(block.backend):
        dialog.save_button.click()
    assert "300 characters long" in dialog.error_text("name")
    assert dialog.focusWidget() is dialog.name_edit   # the first field in the form that is wrong
    assert f"Frontend port {block.frontend} is in use by" in dialog.error_text("frontend_port")
    assert f"Backend port {block.backend} is in use by" in dialog.error_text("backend_port")
    assert store.list() == []


def test_messages_have_their_room_so_the_buttons_stay_under_the_pointer(qtbot: QtBot, store: ProjectStore,
                                                                      project_dir: Path) -> None:
    dialog = shown(qtbot, ProjectDialog(store))
    dialog.path_edit.setText(str(project_dir))
    before = place(dialog.save_button, dialog)
    dialog.save_button.click()                        # no name: a one-line message, in the room kept for it
    assert dialog.error_text("name") == "Name is required."
    qtbot.waitUntil(lambda: place(dialog.save_button, dialog) == before, timeout=2000)
    dialog.path_edit.setText(str(project_dir / "missing"))
    dialog.save_button.click()                        # a message of two lines grows the form once, on Save
    assert "Name is required." in dialog.error_text("name") and dialog.error_text("path")
    qtbot.waitUntil(lambda: dialog.errors["path"].height() >= dialog.errors["path"].heightForWidth(
        dialog.errors["path"].width()), timeout=2000)
    for _ in range(3):
        QApplication.processEvents()                   # the form's re-fit after the Save
    after_save = place(dialog.save_button, dialog)
    qtbot.keyClicks(dialog.name_edit, "a")            # typing clears the name's message ...
    qtbot.keyClicks(dialog.path_edit, "x")            # ... and the folder's: nothing moves
    assert dialog.error_text("name") == "" and dialog.error_text("path") == ""
    for _ in range(3):
        QApplication.processEvents()                   # let a deferred re-fit run, if any
    assert place(dialog.save_button, dialog) == after_save


def test_change_ports_marks_the_taken_port_fills_the_next_free_one_and_refuses_it_still_taken(
        qtbot: QtBot, store: ProjectStore, project_dir: Path) -> None:
    block = free_block()
    project = store.add("ported", project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
    with listen_on(block.frontend), listen_on(block.backend):
        dialog = shown(qtbot, ProjectDialog(store, project))
        dialog.review_ports()
        front, back = dialog.port_spins["frontend_port"], dialog.port_spins["backend_port"]
        assert dialog.focusWidget() is front
        assert front.value() > block.frontend and back.value() > block.backend
        assert front.value() != back.value()
        assert f"Frontend port {block.frontend} is in use by" in dialog.error_text("frontend_port")
        assert f"Filled in: {front.value()}, the next free port." in dialog.error_text("frontend_port")
        assert f"Filled in: {back.value()}" in dialog.error_text("backend_port")
        suggested = back.value()
        back.setValue(block.backend)                  # the user keeps a port that is still taken
        dialog.save_button.click()
        assert f"Backend port {block.backend} is in use by" in dialog.error_text("backend_port")
        assert store.get(project.id or 0).backend_port == block.backend and dialog.isVisible()
        back.setValue(suggested)
        dialog.save_button.click()
    saved = store.get(project.id or 0)
    assert (saved.frontend_port, saved.backend_port) == (front.value(), suggested)


def test_a_folder_another_project_uses_is_named_while_picking_it(qtbot: QtBot, store: ProjectStore,
                                                                 project_dir: Path, tmp_path: Path) -> None:
    store.add("first", project_dir, **{f"{k}_port": v for k, v in free_block().as_dict().items()})
    dialog = shown(qtbot, ProjectDialog(store))
    assert dialog.folder_note.isHidden()
    qtbot.keyClicks(dialog.path_edit, str(project_dir))
    assert not dialog.folder_note.isHidden()
    assert dialog.folder_note.text().startswith("Project 'first' uses this folder too")
    qtbot.keyClicks(dialog.path_edit, "-other")
    assert dialog.folder_note.isHidden()
    other = tmp_path / "other"
    other.mkdir()
    dialog.path_edit.setText(str(other))
    dialog.path_edit.textEdited.emit(str(other))
    assert dialog.folder_note.isHidden()
