"""Confirm removing a project, with the option to delete its data volumes and secrets too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from cchub_desktop.store.rows import StoredProject


class RemoveProjectDialog(QDialog):
    confirmed = Signal(bool)  # delete_data

    def __init__(self, project: StoredProject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("remove_dialog")
        self.setWindowTitle("Remove project")
        text = QLabel(f"Remove the project “{project.name}” from CommandCenter Hub?\n\n"
                      f"Its folder {project.path} is not touched.")
        text.setWordWrap(True)
        self.delete_data = QCheckBox("Also delete its database data (PostgreSQL and Redis volumes) and its "
                                     "generated passwords. This cannot be undone.")
        self.delete_data.setAccessibleName("Also delete data volumes and secrets")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.remove_button = buttons.addButton("Remove", QDialogButtonBox.ButtonRole.DestructiveRole)
        self.remove_button.setAccessibleName("Remove project")
        self.remove_button.clicked.connect(self._confirm)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.delete_data)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    def _confirm(self) -> None:
        self.confirmed.emit(self.delete_data.isChecked())
        self.accept()
