"""A runner address nothing answers on: the real Dagger CLI (v0.21.8) retries it for ever (docs/real-engine.md),
so a start checks unix:// and tcp:// runners first and fails at once with a line that says what to do."""

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


def test_the_test_engine_like_the_real_cli_never_hands_out_a_session_on_a_dead_socket(
        fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    env = {**os.environ, **fake_dagger_env.env(), "_EXPERIMENTAL_DAGGER_RUNNER_HOST": f"unix://{tmp_path}/none.sock"}
    proc = subprocess.Popen([str(fake_dagger_env.cli_path), "session"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []

    def retrying() -> bool:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        seen.append(line)
        return "retrying" in line or proc.poll() is not None

    try:
        wait_for(retrying, timeout=60)
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "session_token" not in out


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
