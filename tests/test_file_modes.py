"""The project database, logs and settings are private to the user (0600) and so are their folders (0700):
created so under a usual umask (022), and tightened when found wider (a copy, an old version, a hand edit).
The secrets folder is the exception: found wider it is refused at start (tests/test_security.py)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import StackLog
from cchub_desktop.store import ProjectStatus, ProjectStore, migrations
from tests.cli_process import cchub
from tests.test_reliability_faults import Hub, run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Files as most desktops create them: 0644 and folders 0755 unless the app asks otherwise."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def folders(paths: AppPaths) -> dict[str, int]:
    return {p.name: mode(p) for p in (paths.data_dir, paths.logs_dir, paths.backups_dir, paths.runtime_dir)}


PRIVATE_FOLDERS = {"data": 0o700, "logs": 0o700, "backups": 0o700, "run": 0o700}


def test_a_new_home_is_private(project_dir: Path) -> None:
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    paths = app_paths()
    assert folders(paths) == PRIVATE_FOLDERS
    assert mode(paths.db_file) == 0o600 and mode(paths.secrets_dir) == 0o700
    AppSettings(runner_host="tcp://a:1").save(paths.settings_file)
    assert mode(paths.settings_file) == 0o600


def test_wider_modes_are_tightened_on_next_use(project_dir: Path) -> None:
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    paths = app_paths()
    AppSettings().save(paths.settings_file)
    for folder in (paths.data_dir, paths.logs_dir, paths.backups_dir, paths.runtime_dir):
        folder.chmod(0o755)
    paths.db_file.chmod(0o644)
    paths.settings_file.chmod(0o666)
    done = cchub("list")
    assert done.returncode == 0 and "alpha" in done.stdout
    assert folders(paths) == PRIVATE_FOLDERS and mode(paths.db_file) == 0o600
    assert cchub("plan", "alpha").returncode == 0     # a command that reads the settings
    assert mode(paths.settings_file) == 0o600


def test_the_database_created_by_the_app_is_private_from_the_start(cchub_home: Path) -> None:
    paths = app_paths()
    paths.ensure()
    ProjectStore(paths.db_file).close()
    assert mode(paths.db_file) == 0o600
    assert sorted(p.name for p in paths.data_dir.iterdir() if p.is_file()) == ["projects.sqlite3"]


def test_the_copy_made_before_a_migration_is_private(cchub_home: Path) -> None:
    paths = app_paths()
    paths.ensure()
    with contextlib.closing(sqlite3.connect(paths.db_file)) as conn:   # a database from the first release
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        migrations._v1_projects(conn)
        conn.commit()
    paths.db_file.chmod(0o644)
    store = ProjectStore(paths.db_file)
    store.close()
    assert store.migration_backup is not None
    assert mode(store.migration_backup) == 0o600 and mode(paths.db_file) == 0o600


def test_stack_logs_are_private_and_old_wider_ones_are_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    old = folder / "alpha.log.1"
    old.write_text("an older log\n")
    old.chmod(0o644)
    log = StackLog(folder / "alpha.log", max_bytes=200, backup_count=2)
    try:
        for n in range(20):   # enough to rotate
            log.note(f"line {n} " + "x" * 40)
    finally:
        log.close()
    written = sorted(folder.iterdir())
    assert [p.name for p in written] == ["alpha.log", "alpha.log.1", "alpha.log.2"]
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}


def test_a_started_stack_writes_its_log_private(fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = Hub(fake_dagger_env, project_dir)
    try:
        pid = hub.add("alpha")
        run(hub.orch.start(pid))
        assert hub.orch.state(pid) == ProjectStatus.RUNNING
        run(hub.orch.stop(pid))
    finally:
        run(hub.orch.aclose())
        hub.store.close()
    logs = [p for p in app_paths().logs_dir.iterdir() if p.name != "by-name"]
    assert logs and {p.name: mode(p) for p in logs} == {p.name: 0o600 for p in logs}
    assert mode(app_paths().logs_dir / "by-name") == 0o700   # the links by project name: a private folder
