"""Add or edit a project: name, folder, four ports, expose-database option; the store's rules shown inline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cchub_desktop import ports
from cchub_desktop.lease import Lease, LeaseHeld
from cchub_desktop.store import PORT_FIELDS, Project, ProjectStore, StoreError, ValidationError
from cchub_desktop.store.validation import broad_path_warning
from cchub_desktop.ui.form_errors import clear_error, error_label, release_room, set_error

PORT_TITLES = {"frontend_port": "Frontend port", "backend_port": "Backend port",
               "postgres_port": "PostgreSQL port", "redis_port": "Redis port"}
EXPOSE_WARNING = ("Tunnels listen on all network interfaces: the database ports become reachable from "
                  "your local network (password protected).")


def typed_path(text: str) -> str:
    """A folder as people paste it: without surrounding blanks or quotes, a file:// URL as its local path."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if text.startswith("file://"):
        text = QUrl(text).toLocalFile() or text
    return text


class ProjectDialog(QDialog):
    """Nothing is written until every rule passes; `saved` carries the stored project."""

    saved = Signal(object)  # Project

    def __init__(self, store: ProjectStore, project: Project | None = None, *, editable_runtime: bool = True,
                 hold: Callable[[], Lease | None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._hold = hold   # the project's lease for a change of folder or ports (lease.py); LeaseHeld if owned
        self._project = project
        self._live_all = False   # check every port against other programs, not just the changed ones
        self.saved_project: Project | None = None
        self.setWindowTitle("Edit project" if project else "Add project")
        self.setObjectName("project_dialog")
        self.setMinimumWidth(520)

        self.name_edit = QLineEdit(project.name if project else "")
        self.name_edit.setAccessibleName("Project name")
        self.name_edit.setPlaceholderText("e.g. Acme website")
        self.path_edit = QLineEdit(project.path if project else "")
        self.path_edit.setAccessibleName("Project folder")
        self.path_edit.setPlaceholderText("The project's folder (mounted read-only in the stack)")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setAccessibleName("Choose the project folder")
        self.browse_button.clicked.connect(self.choose_folder)
        self.broad_ok = QCheckBox("Use this folder anyway")
        self.broad_ok.setAccessibleName("Use this broad folder anyway")
        self.broad_ok.hide()
        # the same folder for two projects is allowed (two stacks on one checkout) but seldom meant: say so
        self.folder_note = QLabel()
        self.folder_note.setObjectName("folder_note")
        self.folder_note.setWordWrap(True)
        self.folder_note.setStyleSheet("color: #92400e;")
        self.folder_note.hide()

        self.port_spins: dict[str, QSpinBox] = {}
        for field in ("frontend_port", "backend_port", "postgres_port", "redis_port"):
            spin = QSpinBox()
            spin.setRange(0, 999_999)  # out-of-range numbers reach the store rule, which says why
            spin.setAccessibleName(PORT_TITLES[field])
            spin.setObjectName(field)
            self.port_spins[field] = spin
        self.expose_db = QCheckBox("Expose the database ports (PostgreSQL, Redis) on this machine")
        self.expose_db.setAccessibleName("Expose database ports")
        self.expose_warning = QLabel(EXPOSE_WARNING)
        self.expose_warning.setWordWrap(True)
        self.expose_db.toggled.connect(self._expose_toggled)
        # a removed project of this name left its data: offered, never taken by default (data follows identity)
        self.adopt = QCheckBox()
        self.adopt.setAccessibleName("Use the data of the removed project")
        self.adopt.hide()
        self._retired_key: str | None = None
        self.runtime_note = QLabel("Stop the project to change its folder, ports or database exposure.")
        self.runtime_note.setWordWrap(True)
        self.runtime_note.setVisible(not editable_runtime)

        self.errors: dict[str, QLabel] = {f: error_label(f) for f in ("name", "path", *PORT_FIELDS)}
        self.general_error = error_label("general")
        self._fill(project)
        self._expose_toggled(self.expose_db.isChecked())
        self._layout(editable_runtime)
        self._initial = self.values()
        self.discard_box: QMessageBox | None = None
        self._discarding = False
        self.name_edit.textEdited.connect(lambda _t: self._clear_error("name"))
        if project is None:
            self.name_edit.textChanged.connect(lambda _t: self._offer_retired())
            self._offer_retired()
        self.path_edit.textEdited.connect(lambda _t: self._path_edited())
        for field, spin in self.port_spins.items():
            spin.valueChanged.connect(lambda _v, f=field: self._clear_error(f))

    # ----- building ----------------------------------------------------------------------------------------

    def _fill(self, project: Project | None) -> None:
        if project is not None:
            for field, spin in self.port_spins.items():
                spin.setValue(int(getattr(project, field)))
            self.expose_db.setChecked(project.expose_db)
            return
        try:
            free = ports.next_free_block(self._store.used_ports()).as_dict()
        except (RuntimeError, StoreError) as exc:
            self._show_error("general", str(exc))
            free = ports.block(0).as_dict()
        for field, spin in self.port_spins.items():
            spin.setValue(free[field.removesuffix("_port")])

    def _layout(self, editable_runtime: bool) -> None:
        form = QFormLayout()
        form.addRow("Name", self._with_error(self.name_edit, "name"))
        form.addRow("", self.adopt)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.path_edit, 1)
        folder_row.addWidget(self.browse_button)
        folder_box = QVBoxLayout()
        folder_box.addLayout(folder_row)
        folder_box.addWidget(self.errors["path"])
        folder_box.addWidget(self.broad_ok)
        folder_box.addWidget(self.folder_note)
        form.addRow("Folder", folder_box)
        for field, spin in self.port_spins.items():
            form.addRow(PORT_TITLES[field], self._with_error(spin, field))
        form.addRow("", self.expose_db)
        form.addRow("", self.expose_warning)
        if self._project is not None:   # the backend's variables of this project (ui/environment_dialog.py)
            from cchub_desktop.ui.environment_dialog import environment_button

            form.addRow("Environment", environment_button(self, self._project.data_key, f"'{self._project.name}'",
                                                          running=not editable_runtime))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setAccessibleName("Save project")
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        outer.addWidget(self.runtime_note)
        outer.addWidget(self.general_error)
        outer.addWidget(buttons)
        for widget in (self.path_edit, self.browse_button, self.expose_db, *self.port_spins.values()):
            widget.setEnabled(editable_runtime)

    def _with_error(self, widget: QWidget, field: str) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        layout.addWidget(self.errors[field])
        return box

    # ----- actions -----------------------------------------------------------------------------------------

    def _offer_retired(self) -> None:
        """Offer the data a removed project of this name kept: its date and database, unchecked."""
        try:
            found = self._store.retired_for(self.name_edit.text())
        except (ValidationError, StoreError):
            found = []
        if not found:
            self._retired_key = None
            self.adopt.setChecked(False)
            self.adopt.hide()
            return
        old = found[0]
        if old.data_key != self._retired_key:
            self.adopt.setChecked(False)
        self._retired_key = old.data_key
        image = f"database {old.db_image}" if old.db_image else "never started"
        self.adopt.setText(f"Use the data '{old.name}' left when it was removed on {old.removed_at:%Y-%m-%d %H:%M}\n"
                           f"({image}, was in {old.path}). Unchecked: this project starts with new data.")
        self.adopt.show()
        self._fit_soon()

    def choose_folder(self) -> None:
        start = self.path_edit.text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose the project folder", start)
        if folder:
            self.path_edit.setText(folder)
            self._path_edited()

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"name": self.name_edit.text(), "path": typed_path(self.path_edit.text()),
                                  "expose_db": self.expose_db.isChecked()}
        values.update({f: spin.value() for f, spin in self.port_spins.items()})
        return values

    def save(self) -> None:
        """Validate through the store and write; on a rule broken, show it next to its field."""
        for label in (*self.errors.values(), self.general_error):
            label.clear()
            release_room(label)
        self._fit_soon()
        values = self.values()
        problems = self._precheck(values)
        if problems:
            order = ["name", "path", *self.port_spins]   # the focus goes to the first field in the form
            for field, message in sorted(problems.items(), key=lambda p: order.index(p[0]) if p[0] in order
                                         else len(order), reverse=True):
                self._show_error(field, message)
            return
        try:
            if self._project is None:
                adopt = self._retired_key if not self.adopt.isHidden() and self.adopt.isChecked() else None
                project = self._store.add(values.pop("name"), values.pop("path"),
                                          allow_broad_path=self._broad_allowed(), adopt=adopt, **values)
            else:
                assert self._project.id is not None
                changes = self._changes(values)
                lease = self._hold() if self._hold is not None and set(changes) - {"name"} else None
                try:
                    project = self._store.update(self._project.id, **changes)
                finally:
                    if lease is not None:
                        lease.release()
        except ValidationError as exc:
            self._show_error(exc.field, exc.message)
            return
        except LeaseHeld as exc:
            self._show_error("general", f"The project was not saved: {exc}")
            return
        except (StoreError, ValueError, KeyError) as exc:
            self._show_error("general", f"The project was not saved: {exc}")
            return
        self.saved_project = project
        self.saved.emit(project)
        self.accept()

    def _precheck(self, values: dict[str, Any]) -> dict[str, str]:
        """Every field's rule at once (add/update stop at the first), so one Save shows all that is wrong."""
        editable = self.path_edit.isEnabled()
        try:
            return self._store.problems(
                values["name"], values["path"], {f: values[f] for f in PORT_FIELDS}, expose_db=values["expose_db"],
                allow_broad_path=self._broad_allowed(), project_id=self._project.id if self._project else None,
                check_path=editable, check_ports=editable, live_all=self._live_all)
        except StoreError as exc:
            return {"general": str(exc)}

    def review_ports(self) -> None:
        """"Change ports" (a start failed on a taken port): each port this project binds that another program
        or project holds now is marked, with the next free port filled in, and the first port field has the
        focus. A Save checks every port again, so a port still taken is refused."""
        self._live_all = True
        if not self.path_edit.isEnabled():
            return   # running: the ports cannot change now (runtime_note says so)
        values = self.values()
        found = self._precheck(values)
        taken = self._store.used_ports(exclude_id=self._project.id if self._project else None)
        taken |= {int(values[f]) for f in PORT_FIELDS}
        marked = [f for f in self.port_spins if f in found]
        for field in marked:
            spin = self.port_spins[field]
            try:
                free = ports.next_free_port(spin.value() + 1, taken)
            except RuntimeError:
                self._show_error(field, found[field])
                continue
            taken.add(free)
            spin.setValue(free)   # clears the field's message: shown below, after the value
            self._show_error(field, f"{found[field]} Filled in: {free}, the next free port.")
        first = self.port_spins[marked[0] if marked else "frontend_port"]
        first.setFocus(Qt.FocusReason.OtherFocusReason)
        first.selectAll()

    def _changes(self, values: dict[str, Any]) -> dict[str, Any]:
        assert self._project is not None
        current = self._project
        changes = {k: v for k, v in values.items() if k != "path" and getattr(current, k) != v}
        if values["path"] != current.path:
            changes["path"] = values["path"]
            if self._broad_allowed():
                changes["allow_broad_path"] = True
        return changes

    def _broad_allowed(self) -> bool:
        return not self.broad_ok.isHidden() and self.broad_ok.isChecked()

    def _expose_toggled(self, exposed: bool) -> None:
        self.expose_warning.setStyleSheet("color: #92400e;" if exposed else "color: palette(mid);")

    def _path_edited(self) -> None:
        self._clear_error("path")
        self.broad_ok.setChecked(False)
        self.broad_ok.hide()
        self._note_shared_folder()

    def _note_shared_folder(self) -> None:
        """Name the other projects that use the folder typed or picked."""
        text = typed_path(self.path_edit.text())
        try:
            path = Path(text).expanduser()
            folder = str(path.resolve()) if text and path.is_absolute() else None
            own = self._project.id if self._project else None
            others = [p.name for p in self._store.rows() if folder and p.path == folder and p.id != own]
        except (OSError, StoreError):
            others = []
        if others:
            names = ", ".join(f"'{n}'" for n in others)
            self.folder_note.setText(f"Project {names} uses this folder too; each project gets a stack and data "
                                     "of its own.")
        if bool(others) == self.folder_note.isHidden():
            self.folder_note.setVisible(bool(others))
            self._fit_soon()

    def _show_error(self, field: str, message: str) -> None:
        label = self.errors.get(field, self.general_error)
        set_error(label, message.replace("/", "/\u200b"))  # a long path may wrap after any folder, not overflow
        self._fit_soon()
        if field == "path" and self._is_broad(typed_path(self.path_edit.text())):
            self.broad_ok.show()
        focus = {"name": self.name_edit, "path": self.path_edit, **self.port_spins}.get(field)
        if focus is not None and focus.isEnabled():
            focus.setFocus(Qt.FocusReason.OtherFocusReason)

    def _clear_error(self, field: str) -> None:
        """As the user edits a field its message goes; its room stays until the next Save (form_errors.py)."""
        clear_error(self.errors.get(field, self.general_error))

    # ----- size -----------------------------------------------------------------------------------------------

    def _fit_soon(self) -> None:
        QTimer.singleShot(0, self.fit_contents)

    def fit_contents(self) -> None:
        """Grow (or shrink back) to what the form needs at the current width, so a message that wraps onto
        several lines is never clipped; the width stays, so nothing above the message moves sideways."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = self.width()
        needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalSizeHint().height()
        needed = max(needed, layout.totalMinimumSize().height())
        self.setMinimumHeight(needed)
        if self.height() != needed:
            self.resize(width, needed)

    # ----- cancel ---------------------------------------------------------------------------------------------

    def is_dirty(self) -> bool:
        return self.values() != self._initial

    def reject(self) -> None:
        """Cancel (or Escape): with typed input, ask before throwing it away."""
        if self._discarding or not self.is_dirty() or self.saved_project is not None:
            super().reject()
            return
        if self.discard_box is not None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Discard the changes?",
                          "What you typed is not saved. Discard it?",
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("discard_box")
        box.button(QMessageBox.StandardButton.Cancel).setText("Keep editing")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._discard_answered)
        self.discard_box = box
        box.open()

    def _discard_answered(self, result: int) -> None:
        box, self.discard_box = self.discard_box, None
        if box is not None:
            box.deleteLater()
        if result == QMessageBox.StandardButton.Discard:
            self._discarding = True
            self.reject()

    @staticmethod
    def _is_broad(text: str) -> bool:
        try:
            path = Path(text.strip()).expanduser()
            return path.is_absolute() and path.is_dir() and broad_path_warning(path.resolve()) is not None
        except OSError:
            return False

    def error_text(self, field: str) -> str:
        """The message shown for a field ('' when none); 'general' for errors not tied to a field."""
        label = self.errors.get(field, self.general_error)
        return label.text().replace("\u200b", "")
