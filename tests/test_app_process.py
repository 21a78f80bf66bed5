"""The real entry points in a subprocess: --self-test, and SIGTERM/SIGINT quitting like the Quit action
(every stack stopped, every engine session closed, exit code 0) — also with a start still in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from tests.helpers import key_of

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger


def app_env(cchub_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, CCHUB_HOME=str(cchub_home), QT_QPA_PLATFORM="offscreen")
    env.update(extra or {})
    return env


def wait_until(cond: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None,
               output: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            log = output.read_text(errors="replace")[-3000:] if output else ""
            raise AssertionError(f"the app exited ({proc.returncode}) before {what}:\n{log}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a subprocess with a deadline


def answers_http(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def add_project(name: str, folder: Path) -> ports.PortBlock:
    from fake_dagger.fixtures import free_port_block

    b = free_port_block()
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    try:
        store.add(name, folder, backend_port=b.backend, frontend_port=b.frontend, postgres_port=b.postgres,
                  redis_port=b.redis)
    finally:
        store.close()
    return ports.PortBlock(b.backend, b.frontend, b.postgres, b.redis)


def status_in_store(name: str) -> str:
    store = ProjectStore(app_paths().db_file)
    try:
        return store.get_by_name(name).status
    finally:
        store.close()


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "cchub_desktop", "--self-test"],
    [str(Path(sys.executable).parent / "cchub-desktop"), "--self-test"],
], ids=["python -m cchub_desktop", "cchub-desktop script"])
def test_self_test_builds_the_window_and_exits_0(command: list[str], cchub_home: Path,
                                                 project_dir: Path) -> None:
    if not Path(command[0]).exists():
        pytest.skip("the cchub-desktop script is not installed in this environment")
    add_project("alpha", project_dir)
    result = subprocess.run(command, env=app_env(cchub_home), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "self-test ok" in result.stdout and "1 projects" in result.stdout
    assert (cchub_home / "data" / "projects.sqlite3").is_file()


def test_self_test_leaves_a_live_apps_states_alone(cchub_home: Path, project_dir: Path) -> None:
    """Run beside a live app on the same database, the self-test must not reset 'running' to 'stopped'."""
    from cchub_desktop.store import ProjectStatus

    add_project("alpha", project_dir)
    store = ProjectStore(app_paths().db_file)
    try:
        store.set_status(store.get_by_name("alpha").id, ProjectStatus.RUNNING)  # type: ignore[arg-type]
    finally:
        store.close()
    result = subprocess.run([sys.executable, "-m", "cchub_desktop", "--self-test"], env=app_env(cchub_home),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert status_in_store("alpha") == "running"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_stack_and_exits_0(sig: signal.Signals, cchub_home: Path, project_dir: Path,
                                                 tmp_path: Path, fake_dagger_env: FakeDagger) -> None:
    block = add_project("alpha", project_dir)
    output = tmp_path / "app-output.txt"
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop", "--start", "alpha", "--no-engine-check"],
                                env=app_env(cchub_home, fake_dagger_env.env()), stdout=out, stderr=out)
        try:
            wait_until(lambda: answers_http(block.frontend), 90, "the frontend to answer", proc, output)
            proc.send_signal(sig)
            returncode = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = output.read_text(errors="replace")
    assert returncode == 0, log[-3000:]
    assert f"{sig.name} received" in log
    fake_dagger_env.sessions_exited(timeout=10)
    assert fake_dagger_env.journal.running_services() == []
    assert ports.is_port_free(block.frontend) and ports.is_port_free(block.backend)
    assert status_in_store("alpha") == "stopped"


def test_sigterm_while_a_start_is_in_flight_leaves_nothing_running(cchub_home: Path, project_dir: Path,
                                                                   tmp_path: Path,
                                                                   fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(start_delay=5)  # the first service start hangs long enough to quit during it
    block = add_project("alpha", project_dir)
    output = tmp_path / "app-output.txt"
    with output.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop", "--start", "alpha", "--no-engine-check"],
                                env=app_env(cchub_home, fake_dagger_env.env()), stdout=out, stderr=out)
        try:
            # the engine's progress output (in the project's log file) shows a service start has begun
            log_file = cchub_home / "logs" / f"{key_of('alpha')}.log"
            wait_until(lambda: log_file.exists() and ": start " in log_file.read_text(errors="replace"), 90,
                       "a service start", proc, output)
            proc.send_signal(signal.SIGTERM)
            returncode = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert returncode == 0, output.read_text(errors="replace")[-3000:]
    fake_dagger_env.sessions_exited(timeout=10)
    assert fake_dagger_env.journal.services("start-cancelled"), "the quit did not land during a service start"
    assert fake_dagger_env.journal.running_services() == []
    assert fake_dagger_env.journal.open_tunnels() == []
    assert ports.is_port_free(block.frontend)
    assert status_in_store("alpha") == "stopped"
