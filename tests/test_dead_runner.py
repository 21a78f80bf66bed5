"""A runner address nothing answers on: the real Dagger CLI (v0.21.8) retries it for ever (docs/real-engine.md),
so a start checks unix:// and tcp:// runners first and fails at once with a line that says what to do. The real
CLI then ignores SIGTERM and its stdin closing (so does the test engine's): a `cchub up` stopped while its session
never connected ends it itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from tests.helpers import wait_for
from tests.test_cli_up import add_project

pytestmark = pytest.mark.skipif(os.name != "posix", reason="unix sockets")


def test_up_with_a_dead_engine_socket_fails_at_once_saying_what_to_do(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    dead = tmp_path / "engine.sock"
    app_paths().ensure()
    app_paths().settings_file.write_text(json.dumps({"runner_host": f"unix://{dead}"}), encoding="utf-8")
    add_project(project_dir, port_block)
    env = {**os.environ, **fake_dagger_env.env()}
    result = subprocess.run([sys.executable, "-m", "cchub_desktop.cli", "up", "demo"], env=env, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 1
    assert f"The engine socket {dead} (Settings) does not answer" in result.stderr
    assert "Start the engine, or fix the address in Settings → Engine." in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_dagger_env.journal.sessions() == []  # no CLI session was left waiting


def test_backup_with_the_runner_env_naming_a_dead_socket_fails_at_once_saying_what_to_do(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    dead = tmp_path / "engine.sock"
    add_project(project_dir, port_block)
    env = {**os.environ, **fake_dagger_env.env(), "_EXPERIMENTAL_DAGGER_RUNNER_HOST": f"unix://{dead}"}
    result = subprocess.run([sys.executable, "-m", "cchub_desktop.cli", "backup", "demo"], env=env, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 1
    assert f"The engine socket {dead} ($_EXPERIMENTAL_DAGGER_RUNNER_HOST) does not answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_dagger_env.journal.sessions() == []
    assert list(app_paths().backups_dir.glob("*.sql")) == []  # no half-written dump


def test_update_with_a_dead_engine_socket_fails_at_once_and_records_nothing(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    dead = tmp_path / "engine.sock"
    add_project(project_dir, port_block)
    app_paths().settings_file.write_text(json.dumps({"runner_host": f"unix://{dead}"}), encoding="utf-8")
    env = {**os.environ, **fake_dagger_env.env()}
    result = subprocess.run([sys.executable, "-m", "cchub_desktop.cli", "update", "demo"], env=env, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 1
    assert f"The engine socket {dead} (Settings) does not answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_dagger_env.journal.sessions() == []
    store = ProjectStore(app_paths().db_file)
    try:
        assert store.get_by_name("demo").source_commit is None
    finally:
        store.close()


def test_sigterm_ends_an_up_whose_cli_session_never_connects(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    # the real CLI with a runner that accepts but never answers ignores SIGTERM and its stdin closing
    fake_dagger_env.set(connect_hang=1)
    add_project(project_dir, port_block)
    env = {**os.environ, **fake_dagger_env.env()}
    proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop.cli", "up", "demo"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(fake_dagger_env.journal.sessions()) == 1, timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopping before it was ready" in out and "Traceback" not in err
    fake_dagger_env.sessions_exited(30)   # nothing left running
    (log,) = app_paths().logs_dir.glob("*.log")
    assert "the Dagger CLI session did not end after the stop; ended it" in log.read_text()
