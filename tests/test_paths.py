from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cchub_desktop.paths import app_paths


def test_cchub_home_moves_every_path_under_one_folder(cchub_home: Path) -> None:
    paths = app_paths()
    for value in (paths.data_dir, paths.db_file, paths.secrets_dir, paths.logs_dir, paths.backups_dir,
                  paths.settings_file, paths.runtime_dir):
        assert value.is_relative_to(cchub_home), value


def test_without_cchub_home_paths_come_from_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CCHUB_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    paths = app_paths()
    assert paths.db_file == tmp_path / "xdg-data" / "cchub-desktop" / "projects.sqlite3"
    assert paths.settings_file == tmp_path / "xdg-config" / "cchub-desktop" / "settings.json"


def test_ensure_creates_private_secrets_folder(cchub_home: Path) -> None:
    paths = app_paths()
    paths.ensure()
    assert paths.data_dir.is_dir() and paths.logs_dir.is_dir() and paths.backups_dir.is_dir()
    assert stat.S_IMODE(paths.secrets_dir.stat().st_mode) == 0o700
