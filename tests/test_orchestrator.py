"""Orchestrator state machine, without Qt and without an engine: a scriptable stack stands in for Dagger."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cchub_desktop import ports
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import StackError, StackLog, StackPhase
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.helpers import free_block_number, listen_on

START_PHASES = (StackPhase.ENGINE, StackPhase.SOURCE, StackPhase.BACKEND_BUILD, StackPhase.POSTGRES,
                StackPhase.REDIS, StackPhase.BACKEND, StackPhase.FRONTEND, StackPhase.TUNNELS)
S = ProjectStatus


class StubStack:
    """Reports the start phases, then waits for the test to `finish_start()` or `fail_start(...)`."""

    def __init__(self, config: Any, settings: Any, log: StackLog,
                 on_phase: Callable[[StackPhase], None] | None = None) -> None:
        self.config = config
        self.on_phase = on_phase
        self.in_start = asyncio.Event()
        self._outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._closed = asyncio.Event()
        self.stop_calls = 0
        self.start_cancelled = False
        self.frontend_url = f"http://localhost:{config.frontend_port}"

    async def start(self) -> None:
        for phase in START_PHASES:
            if self.on_phase:
                self.on_phase(phase)
        self.in_start.set()
        try:
            error = await self._outcome
        except asyncio.CancelledError:
            self.start_cancelled = True
            raise
        if error is not None:
            raise error

    def finish_start(self) -> None:
        self._outcome.set_result(None)

    def fail_start(self, error: BaseException) -> None:
        self._outcome.set_result(error)

    def die(self) -> None:
        self._closed.set()

    async def stop(self) -> None:
        self.stop_calls += 1
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def running(self) -> bool:
        return self._outcome.done() and not self._closed.is_set() and self.stop_calls == 0


class StubFactory:
    def __init__(self) -> None:
        self.stacks: list[StubStack] = []

    def __call__(self, config: Any, settings: Any, log: StackLog,
                 on_phase: Callable[[StackPhase], None] | None = None) -> StubStack:
        stack = StubStack(config, settings, log, on_phase)
        self.stacks.append(stack)
        return stack


class Hub:
    """A store with projects, an orchestrator on a stub factory, and every event it sent."""

    def __init__(self, paths: AppPaths, folder: Path) -> None:
        paths.ensure()
        self.paths = paths
        self.folder = folder
        self.store = ProjectStore(paths.db_file)
        self.factory = StubFactory()
        self.orch = Orchestrator(self.store, AppSettings(), paths, stack_factory=self.factory)
        self.events: list[OrchestratorEvent] = []
        self.orch.subscribe(self.events.append)
        self._block = free_block_number(start=random.randint(200, 4000), count=len(S))

    def add(self, name: str, n: int = 0) -> int:
        b = ports.block(self._block + n)
        project = self.store.add(name, self.folder, backend_port=b.backend, frontend_port=b.frontend,
                                 postgres_port=b.postgres, redis_port=b.redis)
        assert project.id is not None
        return project.id

    def statuses(self, pid: int) -> list[ProjectStatus]:
        out: list[ProjectStatus] = []
        for e in self.events:
            if e.project_id == pid and (not out or out[-1] != e.status):
                out.append(e.status)
        return out


@pytest.fixture
def hub(project_dir: Path) -> Iterator[Hub]:
    h = Hub(app_paths(), project_dir)
    yield h
    h.store.close()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


async def until(cond: Callable[[], bool]) -> None:
    while not cond():
        await asyncio.sleep(0)


def test_start_reports_each_phase_then_running_and_persists_it(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        task = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        assert hub.orch.state(pid) == S.STARTING
        await hub.orch.flush()
        assert hub.store.get(pid).status == "starting"
        hub.factory.stacks[0].finish_start()
        await task
        assert hub.orch.state(pid) == S.RUNNING
        assert hub.store.get(pid).status == "running"
        await hub.orch.stop(pid)

    run(scenario())
    phases = [e.phase for e in hub.events if e.status == S.STARTING and e.phase]
    assert phases == [p.value for p in START_PHASES]
    assert hub.statuses(pid) == [S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED]
    assert hub.store.get(pid).status == "stopped"
    assert hub.factory.stacks[0].stop_calls == 1
    assert "is running at http://localhost:" in hub.orch.log(pid).text()


def test_repeated_start_and_stop_requests_are_no_ops(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        starts = [asyncio.create_task(hub.orch.start(pid)) for _ in range(5)]
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].finish_start()
        await asyncio.gather(*starts)
        await hub.orch.start(pid)  # already running
        await asyncio.gather(*(hub.orch.stop(pid) for _ in range(4)))
        await hub.orch.stop(pid)  # already stopped

    run(scenario())
    assert len(hub.factory.stacks) == 1
    assert hub.factory.stacks[0].stop_calls == 1
    assert hub.statuses(pid) == [S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED]


def test_stop_while_starting_cancels_the_start_and_leaves_nothing_running(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        await hub.orch.stop(pid)
        await start  # the start request returns; it does not raise

    run(scenario())
    stack = hub.factory.stacks[0]
    assert stack.start_cancelled and stack.stop_calls >= 1 and not stack.running
    assert hub.orch.state(pid) == S.STOPPED
    assert hub.orch.stack(pid) is None
    assert hub.statuses(pid) == [S.STARTING, S.STOPPING, S.STOPPED]


def test_a_failed_start_is_an_error_with_the_users_message_and_the_detail_in_the_log(hub: Hub) -> None:
    pid = hub.add("alpha")
    other = hub.add("beta", 1)

    async def scenario() -> None:
        first = asyncio.create_task(hub.orch.start(other))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].finish_start()
        await first
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: len(hub.factory.stacks) == 2 and hub.factory.stacks[1].in_start.is_set())
        hub.factory.stacks[1].fail_start(StackError("Docker is not running — start Docker.",
                                                    detail="SessionError: exit status 1", step="engine"))
        await start
        assert hub.orch.state(other) == S.RUNNING  # the other project is untouched
        await hub.orch.stop_all()

    run(scenario())
    assert hub.orch.state(pid) == S.ERROR
    assert hub.orch.message(pid) == "Docker is not running — start Docker."
    assert hub.store.get(pid).last_error == "Docker is not running — start Docker."
    assert hub.factory.stacks[1].stop_calls == 1  # cleaned up
    assert "SessionError: exit status 1" in hub.orch.log(pid).text()
    assert hub.events[-1].status == S.STOPPED  # stop_all still ran for the other


def test_an_unexpected_exception_becomes_an_error_state_not_a_crash(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].fail_start(ZeroDivisionError("division by zero"))
        await start

    run(scenario())
    assert hub.orch.state(pid) == S.ERROR
    assert "division by zero" in (hub.orch.message(pid) or "")
    assert "Traceback" in hub.orch.log(pid).text()


def test_retry_after_an_error_starts_a_new_stack(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].fail_start(StackError("boom"))
        await start
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: len(hub.factory.stacks) == 2 and hub.factory.stacks[1].in_start.is_set())
        hub.factory.stacks[1].finish_start()
        await start
        assert hub.orch.message(pid) is None
        await hub.orch.stop(pid)

    run(scenario())
    assert hub.statuses(pid) == [S.STARTING, S.ERROR, S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED]


def test_a_port_held_by_another_program_is_named_and_no_stack_is_built(hub: Hub) -> None:
    pid = hub.add("alpha")
    project = hub.store.get(pid)
    holder = listen_on(project.frontend_port, "0.0.0.0")
    try:
        run(hub.orch.start(pid))
    finally:
        holder.close()
    message = hub.orch.message(pid) or ""
    assert hub.orch.state(pid) == S.ERROR
    assert f"Port {project.frontend_port} (frontend) is already in use" in message
    assert "(pid " in message  # this test process holds it, and Linux tells us who
    assert hub.factory.stacks == []


def test_a_session_that_dies_turns_running_into_error(hub: Hub) -> None:
    pid = hub.add("alpha")

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].finish_start()
        await start
        hub.factory.stacks[0].die()
        await until(lambda: hub.orch.state(pid) == S.ERROR)

    run(scenario())
    assert "ended unexpectedly" in (hub.orch.message(pid) or "")
    assert hub.orch.stack(pid) is None


def test_stop_all_stops_starting_and_running_projects(hub: Hub) -> None:
    a, b = hub.add("alpha"), hub.add("beta", 1)

    async def scenario() -> None:
        sa = asyncio.create_task(hub.orch.start(a))
        sb = asyncio.create_task(hub.orch.start(b))
        await until(lambda: len(hub.factory.stacks) == 2 and all(s.in_start.is_set() for s in hub.factory.stacks))
        first = next(s for s in hub.factory.stacks if s.config.name == "alpha")
        first.finish_start()
        await sa
        await hub.orch.stop_all()
        await sb
        await hub.orch.aclose()

    run(scenario())
    assert hub.orch.state(a) == hub.orch.state(b) == S.STOPPED
    assert not any(s.running for s in hub.factory.stacks)
    assert hub.orch.active_projects() == []


def test_reconcile_on_launch_turns_leftover_active_states_into_stopped(hub: Hub) -> None:
    ids = {status: hub.add(status.value, n) for n, status in enumerate(S)}
    for status, pid in ids.items():
        hub.store.set_status(pid, status, last_error="kept" if status == S.ERROR else None)
    hub.orch.reconcile_on_launch()
    for status, pid in ids.items():
        expected = S.ERROR if status == S.ERROR else S.STOPPED
        assert hub.orch.state(pid) == expected
        assert hub.store.get(pid).status == expected.value
    assert hub.orch.message(ids[S.ERROR]) == "kept"


def test_a_failing_subscriber_does_not_break_the_lifecycle(hub: Hub) -> None:
    pid = hub.add("alpha")

    def broken(_e: OrchestratorEvent) -> None:
        raise RuntimeError("subscriber bug")

    hub.orch.subscribe(broken)

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        hub.factory.stacks[0].finish_start()
        await start
        await hub.orch.stop(pid)

    run(scenario())
    assert hub.statuses(pid) == [S.STARTING, S.RUNNING, S.STOPPING, S.STOPPED]


def test_remove_refuses_an_active_project_and_keeps_data_unless_asked(hub: Hub) -> None:
    keep = hub.add("alpha")
    secrets = secrets_file(hub.paths.secrets_dir, hub.store.get(keep).data_key)

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(keep))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        with pytest.raises(RuntimeError, match="Stop the project"):
            await hub.orch.remove(keep)
        assert hub.orch.request_start(keep) is None
        await hub.orch.stop(keep)
        await start
        await hub.orch.remove(keep)

    run(scenario())
    assert hub.store.list() == []
    assert secrets.exists()  # created by the start, kept: the data volumes were not deleted either
    assert hub.folder.is_dir() and (hub.folder / "README.md").exists()


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve(port: int, status: int) -> ThreadingHTTPServer:
    handler = type("Answer", (_Answer,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_health_of_a_running_stack_is_probed_and_reported_on_change(hub: Hub) -> None:
    pid = hub.add("alpha")
    project = hub.store.get(pid)
    hub.orch.health_interval = 0.05
    servers: list[ThreadingHTTPServer] = []

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: bool(hub.factory.stacks) and hub.factory.stacks[0].in_start.is_set())
        # the stub's "services" answer on the project's ports once it runs (after the port check)
        servers.extend([serve(project.backend_port, 500), serve(project.frontend_port, 200)])
        hub.factory.stacks[0].finish_start()
        await start
        assert hub.orch.health(pid) == "healthy"
        await until(lambda: hub.orch.health(pid) == "backend answers HTTP 500")
        for server in servers:
            server.shutdown()
            server.server_close()
        await until(lambda: hub.orch.health(pid) == "backend not answering; frontend not answering")
        servers[:] = [serve(project.backend_port, 200), serve(project.frontend_port, 200)]
        await until(lambda: hub.orch.health(pid) == "healthy")
        await hub.orch.stop(pid)

    try:
        run(scenario())
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    verdicts = [e.health for e in hub.events if e.status == S.RUNNING]
    assert verdicts[:1] == ["healthy"] and "backend answers HTTP 500" in verdicts
    assert hub.orch.health(pid) is None  # stopped
