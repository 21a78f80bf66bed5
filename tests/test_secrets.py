"""Per-project secrets: generated once, private files, reused on every start, never in the project DB."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, StackError
from cchub_desktop.stack.secrets_store import load_or_create, secrets_file
from cchub_desktop.store import ProjectStore

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_secrets_are_created_once_in_private_files_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    first = load_or_create(folder, "alpha")
    assert mode(folder) == 0o700
    assert mode(secrets_file(folder, "alpha")) == 0o600
    again = load_or_create(folder, "alpha")
    assert again == first
    other = load_or_create(folder, "beta")
    assert set(other.values()).isdisjoint(first.values())
    assert all(len(v) >= 24 for v in first.values())


def test_repr_never_shows_a_secret(tmp_path: Path) -> None:
    values = load_or_create(tmp_path / "secrets", "alpha")
    for value in values.values():
        assert value not in repr(values)


@posix_only
def test_a_secrets_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    load_or_create(folder, "alpha")
    path = secrets_file(folder, "alpha")
    os.chmod(path, 0o644)
    with pytest.raises(StackError) as info:
        load_or_create(folder, "alpha")
    assert "chmod 600" in info.value.user_message and str(path) in info.value.user_message


@posix_only
def test_a_secrets_folder_open_to_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    load_or_create(folder, "alpha")
    os.chmod(folder, 0o755)
    with pytest.raises(StackError) as info:
        load_or_create(folder, "alpha")
    assert "chmod 700" in info.value.user_message


def test_a_damaged_secrets_file_is_an_error_and_is_never_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    load_or_create(folder, "alpha")
    path = secrets_file(folder, "alpha")
    path.write_text("{not json")
    with pytest.raises(StackError) as info:
        load_or_create(folder, "alpha")
    assert "damaged" in info.value.user_message
    assert path.read_text() == "{not json"   # regenerating would lock the user out of their database


def test_project_config_uses_the_stored_secrets_and_the_db_never_holds_them(project_dir: Path) -> None:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    project = store.add("Alpha", project_dir)
    first = CommandCenterConfig.from_project(project, AppSettings(), paths)
    second = CommandCenterConfig.from_project(store.get_by_name("alpha"), AppSettings(), paths)
    assert first.secrets == second.secrets
    store.close()
    database = b"".join(p.read_bytes() for p in paths.data_dir.glob("projects.sqlite3*"))
    for value in first.secrets.values():
        assert value.encode() not in database


def test_a_secrets_file_from_before_the_encryption_salt_gets_it_added_once_and_keeps_the_rest(
        tmp_path: Path) -> None:
    """Files written before ENCRYPTION_SALT existed: the salt is generated once and kept; the passwords the
    database was created with are never regenerated."""
    import json
    folder = tmp_path / "secrets"
    first = load_or_create(folder, "old")
    path = secrets_file(folder, "old")
    raw = json.loads(path.read_text())
    del raw["encryption_salt"]
    path.write_text(json.dumps(raw))
    upgraded = load_or_create(folder, "old")
    assert (upgraded.db_password, upgraded.redis_password, upgraded.secret_key) == (
        first.db_password, first.redis_password, first.secret_key)
    assert upgraded.encryption_salt and upgraded.encryption_salt != first.encryption_salt
    assert load_or_create(folder, "old").encryption_salt == upgraded.encryption_salt   # kept
    assert json.loads(path.read_text())["encryption_salt"] == upgraded.encryption_salt
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
