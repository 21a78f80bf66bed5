"""Inline validation messages under form fields, one look for every dialog.

Each label always holds the room of one line, shown or not, so a one-line message appears without moving
anything below it; a message cleared as the user types keeps its room until the next Save, so the buttons
never jump under the pointer while typing."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

ERROR_STYLE = "color: #b91c1c;"


def error_label(name: str) -> QLabel:
    """An empty, word-wrapped red label for field `name` (object name `<name>_error`, for tests and a11y)
    with one line's room."""
    label = QLabel()
    label.setObjectName(f"{name}_error")
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setAccessibleName(f"{name} error")
    label.setMinimumHeight(label.fontMetrics().lineSpacing())
    return label


def set_error(label: QLabel, message: str) -> None:
    """Show `message` (a Save): the label takes the lines it needs, at least one."""
    label.setMinimumHeight(label.fontMetrics().lineSpacing())
    label.setText(message)


def clear_error(label: QLabel) -> bool:
    """Clear the message as the user edits; its room stays until the next Save. False if there was none."""
    if not label.text():
        return False
    label.setMinimumHeight(max(label.minimumHeight(), label.height()))
    label.clear()
    return True


def release_room(label: QLabel) -> None:
    """Back to one line's room (before a Save shows the messages anew)."""
    label.setMinimumHeight(label.fontMetrics().lineSpacing())
