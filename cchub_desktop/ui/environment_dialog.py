"""The Environment editor: the backend's variables for one project or for all projects (env_vars.py).

Rows for CommandCenter's known keys (env_keys.py) are always listed with what each enables; other rows are the
user's. A secret's value is never read back into the dialog: its row shows "(set)" and is replaced only when
something is typed. A change applies at the project's next start; the note says "restart to apply" while it
runs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from cchub_desktop.env_keys import known_keys
from cchub_desktop.env_vars import ALL, EnvError, EnvironmentStore, Variable, check_key, check_value

COLUMNS = ("Name", "Value", "Secret", "Enables")
SET_MARK = "(set)"


class EnvironmentDialog(QDialog):
    def __init__(self, store: EnvironmentStore, scope: str = ALL, *, title: str = "all projects",
                 running: bool = False, source_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Environment — {title}")
        self.store, self.scope = store, scope
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(0, 220)
        self.table.setColumnWidth(2, 60)
        self.table.verticalHeader().setVisible(False)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        scope_words = "every project" if scope == ALL else "this project (overrides the all-projects value)"
        self.note = QLabel(f"Variables for the backend and the worker of {scope_words}. Secrets go to the "
                           "desktop keyring (else a private file), and reach the containers only as secrets. "
                           "A change takes effect at the next start." + ("  Running now: restart to apply."
                                                                         if running else ""))
        self.note.setWordWrap(True)
        add = QPushButton("Add variable")
        add.clicked.connect(lambda: self._add_row("", "", False, ""))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.note, self.table, add, self.error, buttons):
            layout.addWidget(widget)
        self._original: dict[str, Variable] = {v.key: v for v in store.variables(scope)}
        enables = {k.key: k.enables for k in known_keys(source_dir)}
        for key in enables:
            v = self._original.get(key)
            self._add_row(key, "" if v is None or v.secret else v.value, True if v is None else v.secret,
                          enables[key], set_secret=v is not None and v.secret, fixed=True)
        for key, v in self._original.items():
            if key not in enables:
                self._add_row(key, "" if v.secret else v.value, v.secret, "", set_secret=v.secret)
        self.resize(760, 420)

    def _add_row(self, key: str, value: str, secret: bool, enables: str, *, set_secret: bool = False,
                 fixed: bool = False) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QLineEdit(key)
        name.setReadOnly(fixed)
        edit = QLineEdit(value)
        if set_secret:
            edit.setPlaceholderText(f"{SET_MARK} — type to replace")
        box = QCheckBox()
        box.setChecked(secret)
        box.toggled.connect(lambda on, e=edit: e.setEchoMode(QLineEdit.EchoMode.Password if on
                                                             else QLineEdit.EchoMode.Normal))
        edit.setEchoMode(QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal)
        self.table.setCellWidget(row, 0, name)
        self.table.setCellWidget(row, 1, edit)
        self.table.setCellWidget(row, 2, box)
        label = QLabel(enables)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.table.setCellWidget(row, 3, label)

    def rows(self) -> list[tuple[str, str, bool]]:
        out = []
        for row in range(self.table.rowCount()):
            name = self.table.cellWidget(row, 0)
            edit = self.table.cellWidget(row, 1)
            box = self.table.cellWidget(row, 2)
            assert isinstance(name, QLineEdit) and isinstance(edit, QLineEdit) and isinstance(box, QCheckBox)
            out.append((name.text().strip(), edit.text(), box.isChecked()))
        return out

    def save(self) -> None:
        """Validate every row first (nothing is written on an error), then write the changes."""
        wanted: dict[str, tuple[str, bool]] = {}
        try:
            for key, value, secret in self.rows():
                if not key:
                    continue
                check_key(key)
                check_value(key, value)
                kept_secret = secret and not value and key in self._original and self._original[key].secret
                if value or kept_secret:
                    wanted[key] = (value, secret)
            for key, (value, secret) in wanted.items():
                old = self._original.get(key)
                if secret and not value:
                    continue   # a secret left as it was
                if old is None or old.secret != secret or secret or old.value != value:
                    self.store.set(self.scope, key, value, secret=secret)
            for key in self._original:
                if key not in wanted:
                    self.store.unset(self.scope, key)
        except EnvError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


def environment_button(parent: QWidget, scope: str = ALL, title: str = "all projects", *, running: bool = False,
                       source_dir: Path | None = None) -> QPushButton:
    """An "Environment…" button that opens the editor for `scope` (a project's data key, or ALL)."""
    from cchub_desktop.paths import app_paths

    button = QPushButton("Environment…")
    button.setObjectName("environment_button")
    button.setAccessibleName(f"Environment variables of {title}")

    def show() -> None:
        paths = app_paths()
        paths.ensure()
        dialog = EnvironmentDialog(EnvironmentStore(paths), scope, title=title, running=running,
                                   source_dir=source_dir, parent=parent)
        dialog.setObjectName("environment_dialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    button.clicked.connect(show)
    return button
