"""Inline validation messages under form fields, one look for every dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

ERROR_STYLE = "color: #b91c1c;"


def error_label(name: str) -> QLabel:
    """A hidden, word-wrapped red label for field `name` (object name `<name>_error`, for tests and a11y)."""
    label = QLabel()
    label.setObjectName(f"{name}_error")
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.setAccessibleName(f"{name} error")
    label.hide()
    return label
