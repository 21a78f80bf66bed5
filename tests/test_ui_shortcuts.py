"""Every documented key and the log's Copy button, pressed as a user presses them, each with what it does.

The window is reached only through what a user sees: its actions by shortcut, dialogs by title, buttons by
text. A shortcut or a button that is removed or wired to nothing fails its test here.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QPlainTextEdit, QPushButton, QWidget

from cchub_desktop.stack.backup import list_backups
from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env


def press(hub: Desktop, keys: str) -> None:
    """The key combination typed into the window, as Qt's shortcut map receives it."""
    window = hub.window
    window.show()
    window.activateWindow()
    hub.qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    combo = QKeySequence(keys)[0]
    target = QApplication.focusWidget() or window
    hub.qtbot.keyClick(target, combo.key(), combo.keyboardModifiers())


def shortcut_action_texts(hub: Desktop, keys: str) -> list[str]:
    wanted = QKeySequence(keys)
    return [a.text() for a in hub.window.actions() if wanted in a.shortcuts()]


def open_dialogs(title: str) -> list[QDialog]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QDialog) and w.isVisible() and w.windowTitle() == title]


def new_dialog(title: str, before: list[QDialog]) -> QDialog | None:
    """A visible dialog with this title that was not open before (earlier tests may leave theirs behind)."""
    fresh = [d for d in open_dialogs(title) if all(d is not b for b in before)]
    return fresh[0] if fresh else None


@pytest.mark.parametrize(("keys", "title", "needs_project"), [
    ("Ctrl+N", "Add project", False),
    ("Ctrl+E", "Edit project", True),
    ("Del", "Remove project", True),
    ("Ctrl+,", "Settings", False),
])
def test_a_shortcut_opens_its_dialog(desktop: Desktop, keys: str, title: str, needs_project: bool) -> None:
    if needs_project:
        desktop.add_project("alpha")
    assert len(shortcut_action_texts(desktop, keys)) == 1, f"{keys} should be the shortcut of one window action"
    before = open_dialogs(title)
    press(desktop, keys)
    desktop.qtbot.waitUntil(lambda: new_dialog(title, before) is not None, timeout=5000)
    dialog = new_dialog(title, before)
    assert dialog is not None
    dialog.reject()
    desktop.qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)


def test_return_starts_and_ctrl_b_backs_up_the_selected_project(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    window = desktop.window
    press(desktop, "Ctrl+B")
    desktop.qtbot.waitUntil(lambda: "database saved to" in window.statusBar().currentMessage(), timeout=30000)
    (dump,) = list_backups(desktop.controller.paths.backups_dir, "alpha")
    assert window.statusBar().currentMessage() == f"alpha: database saved to {dump}"
    desktop.fake.sessions_exited()
    press(desktop, "Return")
    desktop.wait_status(pid, ProjectStatus.RUNNING)
    press(desktop, "Return")
    desktop.wait_status(pid, ProjectStatus.STOPPED)


def button(root: QWidget, text: str) -> QPushButton:
    found = [b for b in root.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert len(found) == 1, f"one visible {text!r} button expected, found {len(found)}"
    return found[0]


def shown_log(window: QWidget) -> str:
    """The text of the window's read-only text panes: the log as the user sees it."""
    return "\n".join(t.toPlainText() for t in window.findChildren(QPlainTextEdit) if t.isReadOnly() and t.isVisible())


def test_the_log_copy_button_copies_the_log(desktop: Desktop) -> None:
    pid = desktop.add_project("alpha")
    window = desktop.window
    press(desktop, "Return")
    desktop.wait_status(pid, ProjectStatus.RUNNING)
    desktop.qtbot.waitUntil(lambda: "is running at" in shown_log(window), timeout=10000)
    QApplication.clipboard().setText("something else")
    desktop.qtbot.mouseClick(button(window, "Copy"), Qt.MouseButton.LeftButton)
    copied = QApplication.clipboard().text()
    assert "is running at" in copied and "something else" not in copied
    assert copied.strip() in shown_log(window)
