"""The settings dialog: values saved with the app's data, rules shown inline, start at login, applied to starts."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from cchub_desktop import autostart
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.settings_dialog import SettingsDialog
from tests import tray_fixtures
from tests.tray_fixtures import Desktop, top_level

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env


@pytest.fixture
def settings_file(cchub_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return app_paths().settings_file


def open_dialog(qtbot: QtBot, settings: AppSettings, settings_file: Path) -> SettingsDialog:
    dialog = SettingsDialog(settings, settings_file)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def error_of(dialog: SettingsDialog, field: str) -> str:
    label = dialog.errors[field]
    return label.text() if label.isVisible() else ""


def executable(tmp_path: Path, name: str = "dagger") -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "CommandCenter"
    (folder / "backend").mkdir(parents=True)
    (folder / "frontend").mkdir()
    return folder


def test_shows_the_current_values_and_saves_changes(qtbot: QtBot, settings_file: Path, tmp_path: Path) -> None:
    live = AppSettings(notify_stopped=False)
    dialog = open_dialog(qtbot, live, settings_file)
    assert not dialog.checks["notify_stopped"].isChecked()
    assert dialog.checks["notify_running"].isChecked()
    assert not dialog.checks["start_minimized"].isChecked()  # default off
    assert dialog.edits["postgres_image"].text() == "pgvector/pgvector:pg16"
    cli = executable(tmp_path)
    dialog.edits["dagger_cli_path"].setText(str(cli))
    dialog.edits["runner_host"].setText("tcp://buildbox:1234")
    dialog.edits["postgres_image"].setText("postgres:16-alpine")
    dialog.checks["notify_failed"].setChecked(False)
    dialog.checks["start_minimized"].setChecked(True)
    assert dialog.edits["host_copy_interval_min"].text() == "15"
    dialog.edits["host_copy_interval_min"].setText("30")
    dialog.save_button.click()
    assert not dialog.isVisible()
    saved = json.loads(settings_file.read_text())
    assert saved["dagger_cli_path"] == str(cli)
    assert saved["runner_host"] == "tcp://buildbox:1234"
    assert saved["postgres_image"] == "postgres:16-alpine"
    assert (saved["notify_failed"], saved["notify_stopped"], saved["start_minimized"]) == (False, False, True)
    assert saved["host_copy_interval_min"] == 30
    assert live == AppSettings.load(settings_file)  # the running app sees the new values too


def test_cancel_changes_nothing(qtbot: QtBot, settings_file: Path) -> None:
    live = AppSettings()
    dialog = open_dialog(qtbot, live, settings_file)
    dialog.edits["postgres_image"].setText("postgres:16-alpine")
    dialog.reject()
    assert not settings_file.exists()
    assert live.postgres_image == "pgvector/pgvector:pg16"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("dagger_cli_path", "/nonexistent/dagger", "does not exist"),
    ("dagger_cli_path", "no-such-dagger-program", "on your PATH"),
    ("runner_host", "buildbox:1234", "scheme://address"),
    ("runner_host", "ftp://buildbox", "Unknown kind of engine address"),
    ("runner_host", "tcp://buildbox", "host and a port"),
    ("runner_host", "unix://run/engine.sock", "absolute socket path"),
    ("source_git_url", "not a url", "not a git URL"),
    ("source_git_url", "", "repository's URL"),
    ("source_git_ref", "feature branch", "not a valid branch"),
    ("source_git_ref", "", "branch, tag or commit"),
    ("postgres_image", "Postgres 15", "Not an image reference"),
    ("node_image", "", "image reference"),
    ("host_copy_interval_min", "0", "from 1 to 1440"),
    ("host_copy_interval_min", "quarter", "whole number of minutes"),
])
def test_bad_values_are_shown_next_to_their_field_and_nothing_is_saved(
        qtbot: QtBot, settings_file: Path, field: str, value: str, message: str) -> None:
    live = AppSettings()
    dialog = open_dialog(qtbot, live, settings_file)
    dialog.edits[field].setText(value)
    dialog.save_button.click()
    assert dialog.isVisible()
    assert message in error_of(dialog, field)
    assert [f for f in dialog.errors if error_of(dialog, f)] == [field]
    assert not settings_file.exists()
    assert live == AppSettings()
    qtbot.keyClick(dialog.edits[field], "x")  # editing the field clears its message
    assert error_of(dialog, field) == ""


def test_cli_path_must_be_an_executable_file(qtbot: QtBot, settings_file: Path, tmp_path: Path) -> None:
    dialog = open_dialog(qtbot, AppSettings(), settings_file)
    plain = tmp_path / "dagger.txt"
    plain.write_text("not a program\n")
    for value, message in ((str(tmp_path), "is not a file"), (str(plain), "is not executable")):
        dialog.edits["dagger_cli_path"].setText(value)
        dialog.save_button.click()
        assert message in error_of(dialog, "dagger_cli_path")


def test_browse_fills_the_cli_path(qtbot: QtBot, settings_file: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cli = executable(tmp_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(cli), ""))
    dialog = open_dialog(qtbot, AppSettings(), settings_file)
    dialog.findChild(type(dialog.save_button), "browse_cli").click()
    assert dialog.edits["dagger_cli_path"].text() == str(cli)
    dialog.save_button.click()
    assert AppSettings.load(settings_file).dagger_cli_path == str(cli)


def test_local_source_folder_must_be_a_commandcenter_checkout(qtbot: QtBot, settings_file: Path,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dialog = open_dialog(qtbot, AppSettings(), settings_file)
    assert dialog.use_git.isChecked()
    assert not dialog.edits["source_local_dir"].isEnabled()
    dialog.use_local.setChecked(True)
    assert not dialog.edits["source_git_url"].isEnabled()
    dialog.save_button.click()
    assert "Choose the folder" in error_of(dialog, "source_local_dir")
    dialog.edits["source_local_dir"].setText(str(tmp_path / "missing"))
    dialog.save_button.click()
    assert "does not exist" in error_of(dialog, "source_local_dir")
    dialog.edits["source_local_dir"].setText(str(tmp_path))
    dialog.save_button.click()
    assert "no backend/ and no frontend/ folder" in error_of(dialog, "source_local_dir")
    folder = checkout(tmp_path)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    dialog.findChild(type(dialog.save_button), "browse_source").click()
    dialog.save_button.click()
    assert not dialog.isVisible()
    assert AppSettings.load(settings_file).source_local_dir == str(folder)


def test_choosing_git_again_forgets_the_local_folder(qtbot: QtBot, settings_file: Path, tmp_path: Path) -> None:
    live = AppSettings(source_local_dir=str(checkout(tmp_path)))
    dialog = open_dialog(qtbot, live, settings_file)
    assert dialog.use_local.isChecked()
    dialog.use_git.setChecked(True)
    dialog.save_button.click()
    assert live.source_local_dir == ""


def test_restore_default_images(qtbot: QtBot, settings_file: Path) -> None:
    dialog = open_dialog(qtbot, AppSettings(redis_image="redis:6", node_image="node:20"), settings_file)
    dialog.findChild(type(dialog.save_button), "restore_images").click()
    assert dialog.edits["redis_image"].text() == "redis:7-alpine"
    assert dialog.edits["node_image"].text() == "node:20-alpine"


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is for Linux and other freedesktop systems")
def test_start_at_login_writes_and_removes_the_autostart_entry(qtbot: QtBot, settings_file: Path) -> None:
    live = AppSettings()
    dialog = open_dialog(qtbot, live, settings_file)
    assert not dialog.checks["start_at_login"].isChecked()
    dialog.checks["start_at_login"].setChecked(True)
    dialog.save_button.click()
    assert autostart.is_enabled()
    assert live.start_at_login
    dialog = open_dialog(qtbot, live, settings_file)
    assert dialog.checks["start_at_login"].isChecked()
    dialog.checks["start_at_login"].setChecked(False)
    dialog.save_button.click()
    assert not autostart.autostart_file().exists()
    assert not AppSettings.load(settings_file).start_at_login


def test_start_at_login_failure_is_shown_and_nothing_saved(qtbot: QtBot, settings_file: Path,
                                                           tmp_path: Path) -> None:
    (tmp_path / "xdg-config").mkdir()
    (tmp_path / "xdg-config" / "autostart").write_text("a file where the folder should be\n")
    dialog = open_dialog(qtbot, AppSettings(), settings_file)
    dialog.checks["start_at_login"].setChecked(True)
    dialog.save_button.click()
    assert dialog.isVisible()
    assert "could not be turned on" in error_of(dialog, "start_at_login")
    assert not settings_file.exists()


def test_saved_engine_and_images_apply_to_the_next_start(desktop: Desktop) -> None:
    desktop.click("Settings…")
    desktop.qtbot.waitUntil(lambda: top_level("settings_dialog") is not None)
    dialog = desktop.integration.settings_dialog
    assert isinstance(dialog, SettingsDialog)
    dialog.edits["postgres_image"].setText("postgres:16-alpine")
    with socket.create_server(("127.0.0.1", 0)) as listener:   # a start checks that the runner answers
        runner = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        dialog.edits["runner_host"].setText(runner)
        dialog.save_button.click()
        pid = desktop.add_project("alpha")
        desktop.click("alpha — Stopped", "Start")
        desktop.wait_status(pid, ProjectStatus.RUNNING)
    images = {s["image"] for s in desktop.fake.journal.services("start")}
    assert "postgres:16-alpine" in images
    [session] = desktop.fake.journal.sessions()
    assert runner in json.dumps(session.env)


def test_an_empty_engine_field_says_what_the_environment_names(qtbot: QtBot, settings_file: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", "/opt/dagger/bin/dagger")
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "tcp://builder:1234")
    dialog = open_dialog(qtbot, AppSettings(), settings_file)
    cli, runner = dialog.edits["dagger_cli_path"], dialog.edits["runner_host"]
    assert cli.placeholderText() == "Empty: $_EXPERIMENTAL_DAGGER_CLI_BIN (/opt/dagger/bin/dagger)"
    assert runner.placeholderText() == "Empty: $_EXPERIMENTAL_DAGGER_RUNNER_HOST (tcp://builder:1234)"
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_CLI_BIN")
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST")
    plain = open_dialog(qtbot, AppSettings(), settings_file)
    assert "downloaded on first use" in plain.edits["dagger_cli_path"].placeholderText()
