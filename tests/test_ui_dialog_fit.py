"""The project dialog fits its messages (a folder message that wraps is not clipped) and Cancel asks before
throwing typed input away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.project_dialog import ProjectDialog


@pytest.fixture
def store() -> Iterator[ProjectStore]:
    paths = app_paths()
    paths.ensure()
    s = ProjectStore(paths.db_file)
    yield s
    s.close()


def rect_in_dialog(dialog: QWidget, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(dialog, widget.rect().topLeft()), widget.size())


def test_a_long_folder_message_wraps_and_the_dialog_grows_to_show_it(qtbot: QtBot, store: ProjectStore,
                                                                     tmp_path: Path) -> None:
    dialog = ProjectDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    height_before = dialog.height()
    deep = tmp_path / ("a-rather-long-folder-name-" * 6) / "that-does-not-exist"
    dialog.name_edit.setText("Clipped")
    dialog.path_edit.setText(str(deep))
    dialog.save_button.click()
    label = dialog.errors["path"]
    qtbot.waitUntil(lambda: label.isVisible() and dialog.height() > height_before, timeout=2000)
    assert label.text() and label.heightForWidth(label.width()) > label.fontMetrics().height() * 1.5  # it wraps
    assert label.height() >= label.heightForWidth(label.width())  # every wrapped line has its room
    assert label.minimumSizeHint().width() <= label.width()  # the long path wraps too, it does not run off
    assert str(deep) in dialog.error_text("path")
    inside = dialog.rect()
    assert inside.contains(rect_in_dialog(dialog, label))
    assert inside.contains(rect_in_dialog(dialog, dialog.save_button))  # the buttons are not pushed out
    dialog.path_edit.setText(str(tmp_path))
    dialog.path_edit.textEdited.emit(str(tmp_path))  # typing clears the message; its room stays until Save,
    assert dialog.error_text("path") == ""           # so the buttons do not jump under the pointer
    grown, save_at = dialog.height(), rect_in_dialog(dialog, dialog.save_button)
    dialog.name_edit.clear()
    dialog.save_button.click()                       # the next Save fits the form to its messages again
    assert dialog.error_text("name") == "Name is required."
    qtbot.waitUntil(lambda: dialog.height() < grown, timeout=2000)
    assert rect_in_dialog(dialog, dialog.save_button) != save_at


def test_cancel_with_typed_input_asks_and_keep_editing_keeps_it(qtbot: QtBot, store: ProjectStore) -> None:
    dialog = ProjectDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.reject()  # nothing typed: closes at once
    assert not dialog.isVisible() and dialog.discard_box is None

    dialog = ProjectDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name_edit, "half typed")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    box = dialog.discard_box
    assert box is not None and box.isVisible() and dialog.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()  # "Keep editing"
    qtbot.waitUntil(lambda: dialog.discard_box is None, timeout=2000)
    assert dialog.isVisible() and dialog.name_edit.text() == "half typed"
    dialog.reject()
    box = dialog.discard_box
    assert box is not None
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)
    assert store.list() == []


def test_settings_fit_a_1280x800_screen_and_a_cleared_message_keeps_its_room_while_typing(
        qtbot: QtBot, tmp_path: Path) -> None:
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(), tmp_path / "settings.json")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.height() <= 760                     # below a 1280x800 screen's title bars and panels
    dialog.edits["runner_host"].setText("not a runner")
    dialog.save_button.click()
    assert dialog.errors["runner_host"].text()
    qtbot.waitUntil(lambda: dialog.errors["runner_host"].height() > 0, timeout=2000)
    save_at = rect_in_dialog(dialog, dialog.save_button)
    qtbot.keyClicks(dialog.edits["runner_host"], "x")  # typing clears the message; nothing moves
    assert dialog.errors["runner_host"].text() == ""
    assert rect_in_dialog(dialog, dialog.save_button) == save_at
