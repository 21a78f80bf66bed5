"""The app as a user runs it (its own process, offscreen) with runners: killed with kill -9 while a stack
runs, the stack keeps running in its runner and the next launch shows it running and stops it; the running
app never imports the Dagger SDK (checked with the interpreter's own import log); SIGTERM ends the app even
while a stack is stuck connecting to an engine that never answers, and nothing of it is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.lease import RUNNER, owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from tests.cli_process import cchub_module
from tests.helpers import key_of
from tests.test_app_process import app_env, wait_until
from tests.test_cli_up import add_project, answers_http

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and sessions")


def launch(home: Path, fake: FakeDagger, output: Path, *args: str) -> subprocess.Popen[bytes]:
    with output.open("wb") as out:
        # -X importtime: the interpreter writes every module it imports to stderr (the output file)
        return subprocess.Popen([sys.executable, "-X", "importtime", "-m", "cchub_desktop", "--no-engine-check",
                                 *args], env=app_env(home, fake.env()), stdout=out, stderr=out)


def imported(output: Path) -> set[str]:
    names = set()
    for line in output.read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def status_of(name: str) -> str:
    store = ProjectStore(app_paths().db_file)
    try:
        return store.get_by_name(name).status
    finally:
        store.close()


def test_kill_9_of_the_app_leaves_the_stack_running_and_the_next_launch_shows_and_stops_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    add_project(project_dir, port_block, "K")
    home = app_paths().data_dir.parent
    first_out = tmp_path / "first.txt"
    first = launch(home, fake_dagger_env, first_out, "--start", "K")
    try:
        wait_until(lambda: status_of("K") == "running", 120, "K running", first, first_out)
        runner = owner_of(app_paths().runtime_dir, key_of("K"))
        assert runner is not None and runner.kind == RUNNER and runner.pid != first.pid
        assert "cchub_desktop.orchestrator" in imported(first_out)   # the log does list the app's imports
        assert not {m for m in imported(first_out) if m == "dagger" or m.startswith("dagger.")}
        first.kill()   # kill -9: no quit, no clean-up
        assert first.wait(30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # the stack runs on without any window
    assert answers_http(port_block.frontend)
    still = owner_of(app_paths().runtime_dir, key_of("K"))
    assert still is not None and still.pid == runner.pid and still.state == "running"

    second_out = tmp_path / "second.txt"
    second = launch(home, fake_dagger_env, second_out)
    try:
        wait_until(lambda: "window shown" in second_out.read_text(errors="replace"), 90, "the window", second,
                   second_out)
        shown = cchub_module("status", "K")
        assert shown.returncode == 0 and shown.stdout.startswith("K: running"), shown.stdout
        # the next window stops it as its own (cchub stop asks the runner; the window follows)
        stopped = cchub_module("stop", "K")
        assert stopped.returncode == 0, stopped.stderr
        wait_until(lambda: owner_of(app_paths().runtime_dir, key_of("K")) is None, 60, "K stopped", second,
                   second_out)
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0, second_out.read_text(errors="replace")[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert status_of("K") == "stopped"
    fake_dagger_env.sessions_exited(30)


def test_sigterm_ends_the_app_while_a_stack_is_stuck_connecting_and_nothing_is_left(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    fake_dagger_env.set(connect_hang=1)   # the engine accepts the connection and never answers
    add_project(project_dir, port_block, "H")
    home = app_paths().data_dir.parent
    out = tmp_path / "app.txt"
    app = launch(home, fake_dagger_env, out, "--start", "H")
    try:
        wait_until(lambda: len(fake_dagger_env.journal.sessions()) == 1, 120, "the session connecting", app, out)
        app.send_signal(signal.SIGTERM)
        assert app.wait(60) == 0, out.read_text(errors="replace")[-3000:]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    # its runner, asked to stop, ends the session that never connected and itself
    wait_until(lambda: owner_of(app_paths().runtime_dir, key_of("H")) is None, 90, "the runner ending")
    fake_dagger_env.sessions_exited(60)
    assert status_of("H") == "stopped"
