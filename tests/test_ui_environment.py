"""The Environment editor of Settings and of the project dialog: known keys, secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from cchub_desktop import env_vars
from cchub_desktop.env_keys import known_keys
from cchub_desktop.env_vars import ALL, EnvironmentStore
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.environment_dialog import EnvironmentDialog
from cchub_desktop.ui.project_dialog import ProjectDialog
from cchub_desktop.ui.settings_dialog import SettingsDialog

SECRET = "sk-ui-test-5d1f0e"


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env_vars, "_keyring", lambda: None)


@pytest.fixture
def store() -> EnvironmentStore:
    paths = app_paths()
    paths.ensure()
    return EnvironmentStore(paths)


def row_of(dialog: EnvironmentDialog, key: str) -> int:
    for row in range(dialog.table.rowCount()):
        name = dialog.table.cellWidget(row, 0)
        assert isinstance(name, QLineEdit)
        if name.text() == key:
            return row
    raise AssertionError(f"no row {key}")


def set_cell(dialog: EnvironmentDialog, row: int, column: int, text: str) -> None:
    edit = dialog.table.cellWidget(row, column)
    assert isinstance(edit, QLineEdit)
    edit.setText(text)


def test_known_keys_are_listed_with_what_they_enable_and_saved_as_secrets(qtbot: QtBot,
                                                                          store: EnvironmentStore) -> None:
    dialog = EnvironmentDialog(store)
    qtbot.addWidget(dialog)
    row = row_of(dialog, "ANTHROPIC_API_KEY")
    enables = dialog.table.cellWidget(row, 3)
    assert enables is not None and "Claude" in enables.property("text")
    set_cell(dialog, row, 1, SECRET)
    dialog._add_row("FEATURE_FLAGS", "beta", False, "")
    dialog.save()
    assert dialog.result() == EnvironmentDialog.DialogCode.Accepted
    assert [(v.key, v.secret, v.value) for v in store.variables(ALL)] == [
        ("ANTHROPIC_API_KEY", True, ""), ("FEATURE_FLAGS", False, "beta")]
    assert store.secret_value(ALL, "ANTHROPIC_API_KEY") == SECRET
    assert SECRET not in store.file.read_text()
    # opened again: the secret is not read back; saving untouched keeps it
    again = EnvironmentDialog(store)
    qtbot.addWidget(again)
    value = again.table.cellWidget(row_of(again, "ANTHROPIC_API_KEY"), 1)
    assert isinstance(value, QLineEdit) and value.text() == "" and "(set)" in value.placeholderText()
    again.save()
    assert store.secret_value(ALL, "ANTHROPIC_API_KEY") == SECRET
    # a row emptied is removed
    third = EnvironmentDialog(store)
    qtbot.addWidget(third)
    set_cell(third, row_of(third, "FEATURE_FLAGS"), 1, "")
    third.save()
    assert [v.key for v in store.variables(ALL)] == ["ANTHROPIC_API_KEY"]


def test_a_bad_row_shows_one_line_and_writes_nothing(qtbot: QtBot, store: EnvironmentStore) -> None:
    dialog = EnvironmentDialog(store, "p1", title="'Demo'", running=True)
    qtbot.addWidget(dialog)
    assert "restart to apply" in dialog.note.text()
    dialog._add_row("GOOD", "1", False, "")
    dialog._add_row("BAD NAME", "x", False, "")
    dialog.save()
    assert "'BAD NAME' is not a variable name" in dialog.error.text()
    assert dialog.result() != EnvironmentDialog.DialogCode.Accepted
    assert store.variables("p1") == []


def test_keys_are_read_from_the_sources_config(tmp_path: Path) -> None:
    config = tmp_path / "backend" / "app" / "config.py"
    config.parent.mkdir(parents=True)
    config.write_text("class Settings(BaseSettings):\n    openai_api_key: str | None = None\n"
                      "    mistral_api_key: str | None = None\n    database_url: str = ''\n")
    keys = [k.key for k in known_keys(tmp_path)]
    assert "MISTRAL_API_KEY" in keys and keys.count("OPENAI_API_KEY") == 1 and "DATABASE_URL" not in keys
    assert "MISTRAL_API_KEY" not in [k.key for k in known_keys(None)]


def test_settings_and_the_project_dialog_open_the_editor(qtbot: QtBot, project_dir: Path) -> None:
    paths = app_paths()
    paths.ensure()
    settings = SettingsDialog(AppSettings(), paths.settings_file)
    qtbot.addWidget(settings)
    button = settings.findChild(QPushButton, "environment_button")
    assert button is not None
    button.click()
    opened = settings.findChild(EnvironmentDialog, "environment_dialog")
    assert opened is not None and opened.scope == ALL
    opened.reject()
    projects = ProjectStore(paths.db_file)
    project = projects.add("Demo", project_dir)
    dialog = ProjectDialog(projects, project)
    qtbot.addWidget(dialog)
    button = dialog.findChild(QPushButton, "environment_button")
    assert button is not None
    button.click()
    opened = dialog.findChild(EnvironmentDialog, "environment_dialog")
    assert opened is not None and opened.scope == project.data_key
    opened.reject()
    new = ProjectDialog(projects)
    qtbot.addWidget(new)
    assert new.findChild(QPushButton, "environment_button") is None   # a new project: not yet
    projects.close()
