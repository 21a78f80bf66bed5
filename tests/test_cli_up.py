"""`cchub up NAME` in the foreground: prints the URLs, serves until Ctrl-C/SIGTERM, then stops cleanly (exit 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import host_copies, ports
from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.errors import NO_RUNTIME
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.helpers import wait_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals")


def add_project(project_dir: Path, block: FreePortBlock, name: str = "Demo") -> None:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    store.add(name, project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
    store.close()


def answers_http(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


class Up:
    """`cchub up NAME` as a subprocess; its stdout lines are collected as they come."""

    def __init__(self, fake: FakeDagger, name: str) -> None:
        env = {**os.environ, **fake.env()}
        self.proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop.cli", "up", name], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.lines) or self.proc.poll() is not None

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for the exit; (exit code, stdout, stderr). Kills it if it does not exit in time."""
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(10)
        assert self.proc.stderr is not None
        return self.proc.returncode, "\n".join(self.lines), self.proc.stderr.read()


def project_status() -> str:
    store = ProjectStore(app_paths().db_file)
    try:
        return store.get_by_name("demo").status
    finally:
        store.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_until_a_signal_then_stops_cleanly(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                                     project_dir: Path, sig: signal.Signals) -> None:
    add_project(project_dir, port_block)
    up = Up(fake_dagger_env, "demo")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C to stop."), timeout=60)
        assert up.proc.poll() is None
        assert answers_http(port_block.frontend) and answers_http(port_block.backend)
        assert project_status() == ProjectStatus.RUNNING.value   # `cchub list` shows it running
        up.proc.send_signal(sig)
    finally:
        code, out, err = up.finish(timeout=60)
    assert code == 0, err
    assert f"Frontend: http://localhost:{port_block.frontend}" in out
    assert f"Backend:  http://localhost:{port_block.backend}" in out
    assert "stopped." in out and "Traceback" not in err
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())
    assert fake_dagger_env.journal.sessions()[0].ended_cleanly
    assert project_status() == ProjectStatus.STOPPED.value
    # the stop copied the project's data to the host first (host_copies.py)
    store = ProjectStore(app_paths().db_file)
    key = store.get_by_name("demo").data_key
    store.close()
    copies = host_copies.list_copies(host_copies.copies_dir(app_paths().data_dir, key))
    assert [(c.number, c.reason) for c in copies] == [(1, "stop")]


def test_sigterm_while_starting_stops_at_once(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                              project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=60)
    add_project(project_dir, port_block)
    up = Up(fake_dagger_env, "demo")
    try:
        wait_for(lambda: up.printed("[Demo] starting PostgreSQL"), timeout=60)   # the start takes 60 s
        up.proc.send_signal(signal.SIGTERM)
    finally:
        code, out, err = up.finish(timeout=30)
    assert code == 0, err
    assert "stopping before it was ready" in out
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())


def test_up_refused_on_a_taken_port_names_no_log_without_details_and_the_log_has_the_failure(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import listen_on

    add_project(project_dir, port_block)
    with listen_on(port_block.frontend, "0.0.0.0"):
        assert cchub(["up", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cchub: Port {port_block.frontend} (frontend) is already in use")
    assert "details in" not in err                 # the message is all there is to say
    store = ProjectStore(app_paths().db_file)
    project = store.get_by_name("demo")
    store.close()
    log = (app_paths().logs_dir / f"{project.data_key}.log").read_text()
    assert f"[hub] error: Port {port_block.frontend} (frontend) is already in use" in log   # the pane shows it


def test_up_failing_exits_1_with_the_message_and_no_traceback(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_dagger_env.set(exit_at_start=1)
    add_project(project_dir, port_block)
    assert cchub(["up", "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cchub: {NO_RUNTIME}")
    assert "details in " in err and "Traceback" not in err
    store = ProjectStore(app_paths().db_file)
    project = store.get_by_name("demo")
    store.close()
    assert project.status == ProjectStatus.ERROR.value
    assert project.last_error is not None and project.last_error.startswith("Docker is not running")


def test_up_for_an_unknown_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert cchub(["up", "nope"]) == 1
    assert "no project named 'nope'" in capsys.readouterr().err
