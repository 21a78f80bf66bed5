"""Every control a screen reader lands on has a name, and the documented keys work."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

if TYPE_CHECKING:
    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]
CONTROLS = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit)


def unnamed_controls(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisibleTo(root):
            continue
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QAbstractSpinBox, QComboBox)):
            continue  # the inner editor of a named spin box or combo box
        if isinstance(widget, QHeaderView):
            continue  # its sections are named by their titles
        text = widget.text() if isinstance(widget, QAbstractButton) else ""
        if not (widget.accessibleName() or text.strip()):
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


def test_window_and_dialogs_name_every_control(gui_hub: GuiHub, qtbot: QtBot, project_dir: Path) -> None:
    gui_hub.add_project("named", project_dir)
    assert unnamed_controls(gui_hub.window) == []
    gui_hub.window.add_action.trigger()
    assert gui_hub.window.project_dialog is not None
    assert unnamed_controls(gui_hub.window.project_dialog) == []
    gui_hub.window.project_dialog.reject()
    gui_hub.window.remove_action.trigger()
    assert gui_hub.window.remove_dialog is not None
    assert unnamed_controls(gui_hub.window.remove_dialog) == []
    gui_hub.window.remove_dialog.reject()


def test_the_documented_shortcuts(gui_hub: GuiHub) -> None:
    window = gui_hub.window
    keys = {action.text(): [s.toString() for s in action.shortcuts()]
            for action in (window.add_action, window.toggle_action, window.open_action, window.remove_action)}
    assert keys["Add project…"] == ["Ctrl+N"]
    assert keys["Start"] == ["Return", "Enter"]
    assert keys["Open"] == ["Ctrl+O"]
    assert keys["Remove…"] == ["Del"]
    assert all(a.shortcutContext() == Qt.ShortcutContext.WindowShortcut and not a.autoRepeat()
               for a in window.actions())
