"""A database edited by hand (or damaged) must never make `cchub` create or delete a file outside the app's
folders: every data key that becomes a path is checked where it does."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger
from hypothesis import given, settings
from hypothesis import strategies as st

from cchub_desktop.cli_logs import log_file_of
from cchub_desktop.host_copies import copies_dir
from cchub_desktop.lease import lease_path, owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.safe_names import UnsafeName, checked_key
from cchub_desktop.stack.backup import new_backup_path
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store.models import new_data_key
from tests.cli_process import cchub_module


def cchub(*args: str) -> subprocess.CompletedProcess[str]:
    return cchub_module(*args)


def test_a_hostile_data_key_is_refused_before_anything_is_deleted(project_dir: Path, tmp_path: Path) -> None:
    assert cchub("add", "A", str(project_dir)).returncode == 0
    paths = app_paths()
    outside = tmp_path / "victim"
    outside.mkdir()
    (outside / "x.json").write_text("keep me")
    (outside / "x.log").write_text("keep me")
    for victim in outside.iterdir():
        victim.chmod(0o600)   # as private as a real secrets file: only the key check stands in the way
    hostile = os.path.relpath(outside / "x", paths.secrets_dir)   # ../../victim/x from the secrets folder
    with sqlite3.connect(paths.db_file) as db:
        db.execute("UPDATE project SET data_key = ?", (hostile,))
    for args in (("remove", "A", "--delete-data", "--yes"), ("remove", "A")):
        done = cchub(*args)
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in outside.iterdir()) == ["x.json", "x.log"], args
        assert "data key" in done.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["x.json", "x.log"]
    assert (outside / "x.json").read_text() == "keep me"
    listed = cchub("list")
    assert listed.returncode == 0 and "A" in listed.stdout


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_no_stored_key_makes_a_path_outside_the_app_folders(key: str) -> None:
    paths = app_paths()
    try:
        checked_key(key)
    except UnsafeName:
        with pytest.raises(UnsafeName):
            secrets_file(paths.secrets_dir, key)
        with pytest.raises(UnsafeName):
            lease_path(paths.runtime_dir, key)
        with pytest.raises(UnsafeName):
            paths.log_file(key)
        with pytest.raises(UnsafeName):
            copies_dir(paths.data_dir, key)
        with pytest.raises(UnsafeName):
            log_file_of(key)
        with pytest.raises(UnsafeName):
            new_backup_path(paths.backups_dir, key)
        assert owner_of(paths.runtime_dir, key) is None
        return
    for folder, path in ((paths.secrets_dir, secrets_file(paths.secrets_dir, key)),
                         (paths.runtime_dir / "leases", lease_path(paths.runtime_dir, key)),
                         (paths.logs_dir, paths.log_file(key)), (paths.logs_dir, paths.log_file(key, "database")),
                         (paths.data_dir / "host-copies", copies_dir(paths.data_dir, key)),
                         (paths.logs_dir, log_file_of(key)),
                         (paths.backups_dir, new_backup_path(paths.backups_dir, key))):
        assert path.parent == folder and os.path.normpath(path) == str(path) and "/" not in path.name


def test_keys_the_app_makes_pass() -> None:
    assert checked_key(new_data_key()) and checked_key("my-project-2") == "my-project-2"


def test_a_hostile_slug_never_names_a_backup_outside_the_backups_folder(
        fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path) -> None:
    """The slug names a project's backup files: `cchub backup` with a hand-edited slug of `../../victim/x`
    writes nothing there (no dump, no passwords copy) and says so in one line."""
    assert cchub("add", "A", str(project_dir)).returncode == 0
    paths = app_paths()
    outside = tmp_path / "victim"
    outside.mkdir()
    with sqlite3.connect(paths.db_file) as db:
        db.execute("UPDATE project SET slug = ?", (os.path.relpath(outside / "x", paths.backups_dir),))
    done = cchub_module("backup", "A", env=fake_dagger_env.env())
    assert list(outside.iterdir()) == []
    assert done.returncode == 1, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "project slug" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert [p for p in paths.backups_dir.iterdir() if p.suffix == ".sql"] == []
