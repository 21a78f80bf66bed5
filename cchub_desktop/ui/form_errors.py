"""Inline validation messages under form fields, one look for every dialog.

Each label always holds the room of one line, shown or not, so a one-line message appears without moving
anything below it; a message cleared as the user types keeps its room until the next Save, so the buttons
never jump under the pointer while typing."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

ERROR_STYLE = "color: #b91c1c;"


def error_label(name: str, *, reserve: bool = True) -> QLabel:
    """An empty, word-wrapped red label for field `name` (object name `<name>_error`, for tests and a11y)
    with one line's room; `reserve=False` for a long form, where a line under every field would make it
    taller than a screen (its messages still keep their room while the user types)."""
    label = QLabel()
    label.setObjectName(f"{name}_error")
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setAccessibleName(f"{name} error")
    label.setProperty("reserve", reserve)
    release_room(label)   # an unreserved label is hidden until it has a message
    return label


def set_error(label: QLabel, message: str) -> None:
    """Show `message` (a Save): the label takes the lines it needs."""
    release_room(label)
    label.setText(message)
    label.show()


def clear_error(label: QLabel) -> bool:
    """Clear the message as the user edits; its room stays until the next Save. False if there was none."""
    if not label.text():
        return False
    label.setMinimumHeight(max(label.minimumHeight(), label.height()))
    label.clear()
    return True


def release_room(label: QLabel) -> None:
    """Back to the room it always has (before a Save shows the messages anew)."""
    reserve = bool(label.property("reserve"))
    label.setMinimumHeight(label.fontMetrics().lineSpacing() if reserve else 0)
    if not reserve and not label.text():
        label.hide()
