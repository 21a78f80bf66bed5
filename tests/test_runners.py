"""Every stack in a runner process of its own (runner_control.py): the window's orchestrator starts, follows
and stops runners, and any client (`cchub stop`, a later window) can act on them. Real processes throughout:
the runner is `cchub up --runner` on the test engine, the lease is the OS lock, `cchub` is its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import ports
from cchub_desktop.lease import RUNNER, owner_of
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.cli_process import cchub_module

pytestmark = pytest.mark.skipif(os.name != "posix", reason="runners are detached with POSIX sessions here")
S = ProjectStatus
BOUND = 90.0   # generous: a loaded CI machine


class Window:
    """The window's side without Qt: an orchestrator in runner mode on the test's store."""

    def __init__(self) -> None:
        self.paths = app_paths()
        self.paths.ensure()
        self.store = ProjectStore(self.paths.db_file)
        self.orch = Orchestrator(self.store, AppSettings(), self.paths, runners=True)
        self.orch.reconcile_on_launch()
        self.events: list[OrchestratorEvent] = []
        self.orch.subscribe(self.events.append)

    async def close(self, *, stop_runners: bool = True) -> None:
        await self.orch.aclose(stop_runners=stop_runners, runner_wait=BOUND)
        self.store.close()


def add_project(project_dir: Path, block: FreePortBlock, name: str = "Demo") -> int:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    try:
        project = store.add(name, project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
        assert project.id is not None
        return project.id
    finally:
        store.close()


async def until(condition: Callable[[], bool], what: str, timeout: float = BOUND) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)


def run(coro: Awaitable[None]) -> None:
    async def main() -> None:
        await coro
    asyncio.run(main())


def recorded(project_id: int) -> tuple[str, str | None]:
    store = ProjectStore(app_paths().db_file)
    try:
        project = store.get(project_id)
        return project.status, project.last_error
    finally:
        store.close()


def test_the_window_starts_a_runner_and_cchub_stop_stops_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    pid = add_project(project_dir, port_block)

    async def scenario() -> None:
        window = Window()
        window.orch.request_start(pid)
        assert window.orch.state(pid) == S.STARTING   # at once, before the runner process has even started
        await window.orch.start(pid)
        assert window.orch.state(pid) == S.RUNNING, window.orch.message(pid)
        assert window.orch.owner(pid) is None          # shown as the window's own, not "in another process"
        owner = owner_of(window.paths.runtime_dir, window.store.get(pid).data_key)
        assert owner is not None and owner.kind == RUNNER and owner.pid != os.getpid()
        assert owner.health == "healthy"
        # phases reached the window through the runner's lease, as they happen
        phases = [e.phase for e in window.events if e.status == S.STARTING and e.phase]
        assert phases[0] == "engine" and len(set(phases)) >= 2, phases
        assert ports.find_conflicts(port_block.as_dict()) != []   # the stack's ports are taken: it serves
        runner = window.orch.runner_of(pid).proc
        assert runner is not None
        # a backup of the running project: taken by its runner, in its session (never a second PostgreSQL)
        sessions = len(fake_dagger_env.journal.sessions())
        dump = await window.orch.backup(pid)
        assert dump.parent == window.paths.backups_dir and "PostgreSQL database dump" in dump.read_text()
        assert len(fake_dagger_env.journal.sessions()) == sessions
        # what the runner writes to the project's log file comes into the window's log, by service
        await until(lambda: {"backend", "frontend"} <= {line.service for line in window.orch.log(pid).lines()[1]},
                    "the services' lines in the window's log")

        result = await asyncio.to_thread(cchub_module, "stop", "demo")
        assert result.returncode == 0, result.stderr
        await until(lambda: window.orch.state(pid) == S.STOPPED, "the window shows it stopped")
        assert runner.wait(BOUND) == 0
        await window.close()

    run(scenario())
    assert recorded(pid) == (S.STOPPED.value, None)
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())


def test_a_runner_outlives_its_window_and_the_next_window_shows_and_stops_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    pid = add_project(project_dir, port_block)
    runner_pid: list[int] = []

    async def first_window() -> None:
        window = Window()
        await window.orch.start(pid)
        assert window.orch.state(pid) == S.RUNNING, window.orch.message(pid)
        runner = window.orch.runner_of(pid).proc
        assert runner is not None
        runner_pid.append(runner.pid)
        await window.close(stop_runners=False)   # Quit with "leave them running"

    async def second_window() -> None:
        window = Window()
        assert window.orch.state(pid) == S.RUNNING
        assert window.orch.owner(pid) is None and window.orch.health(pid) == "healthy"
        await window.orch.stop(pid)
        assert window.orch.state(pid) == S.STOPPED
        await window.close()

    run(first_window())
    key = ProjectStore(app_paths().db_file).get(pid).data_key
    owner = owner_of(app_paths().runtime_dir, key)
    assert owner is not None and owner.pid == runner_pid[0]   # still running with no window at all
    assert recorded(pid)[0] == S.RUNNING.value
    run(second_window())
    assert owner_of(app_paths().runtime_dir, key) is None
    assert recorded(pid) == (S.STOPPED.value, None)
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())


def test_a_runner_killed_mid_start_is_reported_on_its_row(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=60)
    pid = add_project(project_dir, port_block)

    async def scenario() -> None:
        window = Window()
        window.orch.request_start(pid)
        await until(lambda: window.orch.phase(pid) is not None, "a phase from the runner")
        run_ = window.orch.runner_of(pid)
        assert run_.pid is not None
        os.killpg(run_.pid, signal.SIGKILL)   # the runner and its engine session, as an OOM kill would
        await until(lambda: window.orch.state(pid) == S.ERROR, "the row shows the failure")
        message = window.orch.message(pid) or ""
        assert "stopped unexpectedly (killed by SIGKILL)" in message and "Start it again" in message
        await window.close()

    run(scenario())
    status, error = recorded(pid)
    assert status == S.ERROR.value and "stopped unexpectedly" in (error or "")


def test_stop_ends_a_runner_whose_engine_never_connects_within_the_bound(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(connect_hang=1)
    pid = add_project(project_dir, port_block)

    async def scenario() -> None:
        window = Window()
        window.orch.runner_stop_bound = 2.0
        window.orch.request_start(pid)
        await until(lambda: len(fake_dagger_env.journal.sessions()) == 1, "the session is connecting")
        runner = window.orch.runner_of(pid).proc
        assert runner is not None
        await window.orch.stop(pid)
        assert window.orch.state(pid) == S.STOPPED
        notices = [e.notice for e in window.events if e.notice]
        assert any("did not stop within 2 s; its runner and its Dagger session were ended" in n for n in notices)
        assert runner.wait(BOUND) == -signal.SIGKILL   # ended by the window, as the notice says
        await window.close()

    run(scenario())
    fake_dagger_env.sessions_exited(30)   # nothing of the project is left running


def run_window_side(body: str, timeout: float = 180) -> list[str]:
    """Run `body` (indented statements using `orch`, `store`, `paths`, `pid` of project 'demo') in a process
    that imports every module of the window and drives a runner-mode orchestrator, as the app does; its
    output lines, the last one the `dagger` modules that process loaded (none is right)."""
    code = (
        "import asyncio, sys\n"
        "from cchub_desktop.app import AppController\n"   # the window's modules, all of them
        "from cchub_desktop.orchestrator import Orchestrator\n"
        "from cchub_desktop.paths import app_paths\n"
        "from cchub_desktop.settings import AppSettings\n"
        "from cchub_desktop.stack.errors import StackError\n"
        "from cchub_desktop.store import ProjectStore\n"
        "async def main():\n"
        "    paths = app_paths(); store = ProjectStore(paths.db_file)\n"
        "    orch = Orchestrator(store, AppSettings(), paths, runners=True)\n"
        "    pid = store.get_by_name('demo').id\n"
        f"{body}"
        "    await orch.aclose(); store.close()\n"
        "    print(sorted(m for m in sys.modules if m == 'dagger' or m.startswith('dagger.')))\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_window_side_never_imports_the_dagger_sdk(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_project(project_dir, port_block)
    lines = run_window_side(
        "    await orch.start(pid)\n"
        "    print(orch.state(pid).value, orch.message(pid))\n"
        "    await orch.stop(pid)\n"
        "    print(orch.state(pid).value)\n")
    assert lines == ["running None", "stopped", "[]"]
    fake_dagger_env.sessions_exited()


def test_cchub_stop_ends_a_runner_that_does_not_stop_within_its_timeout(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(connect_hang=1)   # an engine that never answers: the stop cannot end the session
    pid = add_project(project_dir, port_block)

    async def scenario() -> None:
        window = Window()
        window.orch.request_start(pid)
        await until(lambda: len(fake_dagger_env.journal.sessions()) == 1, "the session is connecting")
        runner = window.orch.runner_of(pid).proc
        assert runner is not None
        result = await asyncio.to_thread(cchub_module, "stop", "demo", "--timeout", "2")
        assert result.returncode == 0, result.stderr
        assert "did not stop within 2 s: its runner and its Dagger session were ended" in result.stdout
        await until(lambda: window.orch.state(pid) == S.STOPPED, "the window shows it stopped")
        assert runner.wait(BOUND) == -signal.SIGKILL
        await window.close()

    run(scenario())
    assert recorded(pid) == (S.STOPPED.value, None)
    fake_dagger_env.sessions_exited(30)


def test_quitting_the_window_leaves_a_terminal_cchub_up_running_and_the_window_can_stop_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    from tests.test_cli_up import Up

    pid = add_project(project_dir, port_block)
    up = Up(fake_dagger_env, "demo")
    try:
        asyncio.run(until_printed(up))

        async def quit_window() -> None:   # a window opened beside it, then quit ("stop them")
            window = Window()
            assert window.orch.state(pid) == S.RUNNING and window.orch.owner(pid) is not None
            await window.close(stop_runners=True)

        run(quit_window())
        assert up.proc.poll() is None and recorded(pid)[0] == S.RUNNING.value   # not someone else's to stop

        async def stop_from_window() -> None:
            window = Window()
            window.orch.request_stop(pid)   # the window's Stop: asks the `cchub up` (SIGTERM)
            def stopped() -> bool:
                window.orch.poll_others()   # what the window's store follower does once a second
                return window.orch.state(pid) == S.STOPPED and up.proc.poll() is not None

            await until(stopped, "the cchub up stopped")
            await window.close()

        run(stop_from_window())
    finally:
        code, out, err = up.finish(60)
    assert code == 0, err
    assert "stopped." in out
    fake_dagger_env.sessions_exited()


async def until_printed(up: object) -> None:
    await until(lambda: up.printed("Press Ctrl-C to stop."), "cchub up running")  # type: ignore[attr-defined]
