"""The settings dialog: notifications, start at login / minimized, Dagger engine, CommandCenter source, images.

Every field is checked before anything is written; a broken rule is shown under its field. Saving writes
AppSettings to the settings file and updates the settings object the app runs with, so the next stack start
uses the new engine, source and images (running stacks keep theirs).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cchub_desktop import autostart
from cchub_desktop.settings import AppSettings
from cchub_desktop.settings_rules import (
    check_cli_path,
    check_copy_interval,
    check_git_ref,
    check_git_url,
    check_image,
    check_local_source,
    check_runner_host,
    cli_placeholder,
    runner_placeholder,
)
from cchub_desktop.ui.form_errors import clear_error, error_label, release_room, set_error

LABEL_WIDTH = 150
IMAGE_FIELDS = {"postgres_image": "PostgreSQL image", "redis_image": "Redis image",
                "python_image": "Python image (backend)", "node_image": "Node image (frontend)"}
NOTIFY_FIELDS = {"notify_running": "When a project is running (with its address)",
                 "notify_stopped": "When a project stops",
                 "notify_failed": "When a project fails (with the reason)"}

QUIT_TEXT = {"ask": "Ask me", "stop": "Stop them", "leave": "Leave them running"}


def _row(form: QFormLayout, title: str, field: QWidget) -> None:
    """A form row whose label column has the same width in every group, so the fields line up."""
    label = QLabel(title)
    label.setMinimumWidth(LABEL_WIDTH)
    form.addRow(label, field)


class SettingsDialog(QDialog):
    """Edits a copy; on Save writes the file and copies the values into `settings` (the live object)."""

    saved = Signal(object)  # AppSettings

    def __init__(self, settings: AppSettings, settings_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.settings_file = settings_file
        self.setWindowTitle("Settings")
        self.setObjectName("settings_dialog")
        self.setMinimumWidth(640)
        self.errors: dict[str, QLabel] = {}
        self.edits: dict[str, QLineEdit] = {}
        self.checks: dict[str, QCheckBox] = {}
        outer = self._outer = QVBoxLayout(self)
        outer.addWidget(self._notifications_group())
        outer.addWidget(self._desktop_group())
        outer.addWidget(self._engine_group())
        outer.addWidget(self._source_group())
        outer.addWidget(self._images_group())
        outer.addWidget(QLabel("Engine, source and images apply to stacks started after saving."))
        self.general_error = error_label("general", reserve=False)
        outer.addWidget(self.general_error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        outer.addWidget(buttons)

    # ----- building -------------------------------------------------------------------------------------------

    def _check(self, field: str, text: str, value: bool) -> QCheckBox:
        box = QCheckBox(text)
        box.setObjectName(field)
        box.setChecked(value)
        self.checks[field] = box
        return box

    def _edit(self, field: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit(str(getattr(self.settings, field)))
        edit.setObjectName(field)
        edit.setPlaceholderText(placeholder)
        edit.textEdited.connect(lambda _t: self._clear(field))
        self.edits[field] = edit
        return edit

    def _with_error(self, field: str, *widgets: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        row = QHBoxLayout()
        for widget in widgets:
            row.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
        layout.addLayout(row)
        self.errors[field] = error_label(field, reserve=False)
        layout.addWidget(self.errors[field])
        return box

    def _notifications_group(self) -> QGroupBox:
        group = QGroupBox("Notifications")
        layout = QVBoxLayout(group)
        for field, text in NOTIFY_FIELDS.items():
            layout.addWidget(self._check(field, text, bool(getattr(self.settings, field))))
        return group

    def _desktop_group(self) -> QGroupBox:
        group = QGroupBox("Desktop")
        layout = QVBoxLayout(group)
        at_login = autostart.is_enabled() if autostart.supported() else self.settings.start_at_login
        login = self._check("start_at_login", "Start CommandCenter Hub when I log in", at_login)
        login.toggled.connect(lambda _v: self._clear("start_at_login"))
        layout.addWidget(self._with_error("start_at_login", login))
        if autostart.supported():
            login.setToolTip(f"Writes {autostart.autostart_file()}")
        row = QHBoxLayout()   # one line for both: the dialog fits a 1280×800 screen
        row.addWidget(self._check("start_minimized", "Start minimized to the tray",
                                  self.settings.start_minimized))
        row.addSpacing(16)
        row.addWidget(QLabel("On quit with projects running:"))
        self.on_quit = QComboBox()
        self.on_quit.setObjectName("on_quit")
        self.on_quit.setAccessibleName("On quit with projects running")
        for value, text in QUIT_TEXT.items():
            self.on_quit.addItem(text, value)
        self.on_quit.setCurrentIndex(max(0, self.on_quit.findData(self.settings.on_quit)))
        row.addWidget(self.on_quit)
        row.addStretch(1)
        layout.addLayout(row)
        return group

    def _engine_group(self) -> QGroupBox:
        group = QGroupBox("Engine")
        form = QFormLayout(group)
        cli = self._edit("dagger_cli_path", cli_placeholder())
        browse = QPushButton("Browse…")
        browse.setObjectName("browse_cli")
        browse.clicked.connect(self.choose_cli)
        _row(form, "Dagger CLI", self._with_error("dagger_cli_path", cli, browse))
        runner = self._edit("runner_host", runner_placeholder())
        _row(form, "Remote engine", self._with_error("runner_host", runner))
        interval = self._edit("host_copy_interval_min", "minutes, 1 to 1440")
        interval.setToolTip("While a project runs, its data is copied to this computer this often (and at every "
                            "stop), so a volume the engine prunes can be restored.")
        _row(form, "Copy data every (min)", self._with_error("host_copy_interval_min", interval))
        from cchub_desktop.ui.environment_dialog import environment_button

        local = self.settings.source_local_dir.strip()
        _row(form, "Environment", environment_button(self, source_dir=Path(local).expanduser() if local else None))
        return group

    def _source_group(self) -> QGroupBox:
        group = QGroupBox("Source")
        form = QFormLayout(group)
        self.use_git = QRadioButton("Git repository")
        self.use_git.setObjectName("use_git")
        self.use_local = QRadioButton("Local folder")
        self.use_local.setObjectName("use_local")
        choice = QButtonGroup(self)
        choice.addButton(self.use_git)
        choice.addButton(self.use_local)
        local = bool(self.settings.source_local_dir.strip())
        (self.use_local if local else self.use_git).setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.use_git)
        row.addWidget(self.use_local)
        row.addStretch(1)
        form.addRow(row)
        _row(form, "Repository URL", self._with_error("source_git_url", self._edit("source_git_url")))
        _row(form, "Branch, tag or commit", self._with_error("source_git_ref", self._edit("source_git_ref")))
        folder = self._edit("source_local_dir", "A checkout with backend/ and frontend/")
        browse = QPushButton("Browse…")
        browse.setObjectName("browse_source")
        browse.clicked.connect(self.choose_source)
        _row(form, "Local folder", self._with_error("source_local_dir", folder, browse))
        self.use_git.toggled.connect(lambda _v: self._source_mode_changed())
        self._source_mode_changed()
        return group

    def _images_group(self) -> QGroupBox:
        group = QGroupBox("Images")
        form = QFormLayout(group)
        for field, title in IMAGE_FIELDS.items():
            form.addRow(title, self._with_error(field, self._edit(field)))
        reset = QPushButton("Restore default images")
        reset.setObjectName("restore_images")
        reset.clicked.connect(self.restore_default_images)
        _row(form, "", reset)
        return group

    # ----- actions --------------------------------------------------------------------------------------------

    def _source_mode_changed(self) -> None:
        git = self.use_git.isChecked()
        for field in ("source_git_url", "source_git_ref"):
            self.edits[field].setEnabled(git)
        self.edits["source_local_dir"].setEnabled(not git)
        for field in ("source_git_url", "source_git_ref", "source_local_dir"):
            self._clear(field)

    def choose_cli(self) -> None:
        start = self.edits["dagger_cli_path"].text().strip() or str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(self, "Choose the dagger executable", start)
        if path:
            self.edits["dagger_cli_path"].setText(path)
            self._clear("dagger_cli_path")

    def choose_source(self) -> None:
        start = self.edits["source_local_dir"].text().strip() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a CommandCenter checkout", start)
        if folder:
            self.edits["source_local_dir"].setText(folder)
            self.use_local.setChecked(True)
            self._clear("source_local_dir")

    def restore_default_images(self) -> None:
        defaults = AppSettings()
        for field in IMAGE_FIELDS:
            self.edits[field].setText(getattr(defaults, field))
            self._clear(field)

    def values(self) -> AppSettings:
        """The settings as the dialog shows them (unvalidated)."""
        changes: dict[str, object] = {f: e.text().strip() for f, e in self.edits.items()}
        interval = str(changes.pop("host_copy_interval_min"))
        changes["host_copy_interval_min"] = (int(interval) if check_copy_interval(interval) is None
                                             else self.settings.host_copy_interval_min)
        changes.update({f: c.isChecked() for f, c in self.checks.items()})
        changes["on_quit"] = str(self.on_quit.currentData())
        if self.use_git.isChecked():
            changes["source_local_dir"] = ""
        return dataclasses.replace(self.settings, **changes)  # type: ignore[arg-type]

    def validate(self) -> dict[str, str]:
        """Field -> message for every broken rule, shown next to the fields."""
        v = self.values()
        rules = {"dagger_cli_path": check_cli_path(v.dagger_cli_path), "runner_host": check_runner_host(v.runner_host),
                 "host_copy_interval_min": check_copy_interval(self.edits["host_copy_interval_min"].text())}
        if self.use_git.isChecked():
            rules["source_git_url"] = check_git_url(v.source_git_url)
            rules["source_git_ref"] = check_git_ref(v.source_git_ref)
        else:
            rules["source_local_dir"] = check_local_source(v.source_local_dir)
        rules.update({f: check_image(getattr(v, f)) for f in IMAGE_FIELDS})
        errors = {field: message for field, message in rules.items() if message}
        for field in self.errors:
            self._clear(field, keep_room=False)
        for field, message in errors.items():
            self._show(field, message)
        return errors

    def save(self) -> None:
        self._clear("general", keep_room=False)
        if self.validate():
            return
        new = self.values()
        login_now = autostart.is_enabled() if autostart.supported() else self.settings.start_at_login
        if new.start_at_login != login_now:
            try:
                autostart.set_enabled(new.start_at_login)
            except autostart.AutostartError as exc:
                self._show("start_at_login", str(exc))
                return
        try:
            new.save(self.settings_file)
        except OSError as exc:
            self._show("general", f"The settings were not saved: {self.settings_file} could not be written "
                                  f"({exc.strerror or exc}). Check the folder's permissions and disk space.")
            return
        for field in dataclasses.fields(AppSettings):
            setattr(self.settings, field.name, getattr(new, field.name))
        self.saved.emit(self.settings)
        self.accept()

    def _show(self, field: str, message: str) -> None:
        label = self.general_error if field == "general" else self.errors[field]
        set_error(label, message)
        self._fit()

    def _fit(self) -> None:
        """Grow (or shrink back) to the messages shown: layouts do not size wrapped labels by themselves."""
        self._outer.activate()
        self.resize(self.width(), self.heightForWidth(self.width()) if self.hasHeightForWidth()
                    else self.sizeHint().height())

    def _clear(self, field: str, *, keep_room: bool = True) -> None:
        """Clear a field's message: as the user edits, its room stays (nothing moves under the pointer);
        before a Save shows the messages anew, the room goes too."""
        label = self.general_error if field == "general" else self.errors.get(field)
        if label is None:
            return
        clear_error(label)
        if not keep_room:
            release_room(label)
            self._fit()
