"""The orchestrator with the real CommandCenterStack and the real Dagger SDK against the fake engine (no Qt)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cchub_desktop import ports
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import StackError
from cchub_desktop.stack.secrets_store import load_or_create, secrets_file
from cchub_desktop.store import ProjectStatus, ProjectStore

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger


S = ProjectStatus


class EngineHub:
    def __init__(self, folder: Path) -> None:
        self.paths = app_paths()
        self.paths.ensure()
        self.store = ProjectStore(self.paths.db_file)
        self.orch = Orchestrator(self.store, AppSettings(), self.paths)
        self.events: list[OrchestratorEvent] = []
        self.orch.subscribe(self.events.append)
        self.folder = folder

    def add(self, name: str) -> int:
        from fake_dagger.fixtures import free_port_block  # a plugin module: imported once pytest has

        b = free_port_block()
        project = self.store.add(name, self.folder, backend_port=b.backend, frontend_port=b.frontend,
                                 postgres_port=b.postgres, redis_port=b.redis)
        assert project.id is not None
        return project.id


@pytest.fixture
def hub(fake_dagger_env: FakeDagger, project_dir: Path) -> Iterator[EngineHub]:
    h = EngineHub(project_dir)
    yield h
    h.store.close()


def run(coro: object, timeout: float = 60) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def until(cond: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def test_start_and_stop_a_real_stack(hub: EngineHub, fake_dagger_env: FakeDagger) -> None:
    pid = hub.add("alpha")
    project = hub.store.get(pid)

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        _reader, writer = await asyncio.open_connection("127.0.0.1", project.frontend_port)
        writer.close()
        await writer.wait_closed()
        await hub.orch.stop(pid)

    run(scenario())
    phases = [e.phase for e in hub.events if e.status == S.STARTING and e.phase]
    assert phases[0] == "engine" and "backend_build" in phases and "tunnels" in phases
    assert hub.orch.state(pid) == S.STOPPED
    fake_dagger_env.sessions_exited(10)
    assert ports.is_port_free(project.frontend_port)


def test_stop_all_while_two_stacks_are_starting_leaves_nothing_running(hub: EngineHub,
                                                                       fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(start_delay=2)  # each service start takes a while: stop lands mid-start
    a, b = hub.add("alpha"), hub.add("beta")

    async def scenario() -> None:
        starts = [asyncio.create_task(hub.orch.start(pid)) for pid in (a, b)]
        await until(lambda: all(hub.orch.phase(pid) in ("postgres", "redis") for pid in (a, b)))
        await hub.orch.aclose()
        await asyncio.gather(*starts)

    run(scenario())
    assert hub.orch.state(a) == hub.orch.state(b) == S.STOPPED
    fake_dagger_env.sessions_exited(10)
    assert fake_dagger_env.journal.running_services() == []
    assert fake_dagger_env.journal.open_tunnels() == []


def test_stop_while_connecting_to_a_slow_engine(hub: EngineHub, fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(session_delay=1.5)
    pid = hub.add("alpha")

    async def scenario() -> None:
        start = asyncio.create_task(hub.orch.start(pid))
        await until(lambda: hub.orch.phase(pid) == "engine")
        await hub.orch.stop(pid)
        await start

    run(scenario())
    assert hub.orch.state(pid) == S.STOPPED
    fake_dagger_env.sessions_exited(10)


def test_an_engine_that_dies_turns_the_running_project_into_an_error(hub: EngineHub,
                                                                     fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(die_on="Query.version:2")  # the first heartbeat after the start kills the engine
    pid = hub.add("alpha")

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await until(lambda: hub.orch.state(pid) == S.ERROR, timeout=40)
        await hub.orch.flush()

    run(scenario())
    assert "ended unexpectedly" in (hub.orch.message(pid) or "")
    assert hub.store.get(pid).status == "error"


def test_no_docker_is_an_error_that_says_so(hub: EngineHub, fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(exit_at_start=1)
    pid = hub.add("alpha")
    run(hub.orch.start(pid))
    assert hub.orch.state(pid) == S.ERROR
    assert "Docker is not running" in (hub.orch.message(pid) or "")


def test_remove_with_its_data_empties_the_volumes_and_deletes_secrets_and_logs(
        hub: EngineHub, fake_dagger_env: FakeDagger) -> None:
    pid = hub.add("alpha")
    slug = hub.store.get(pid).data_key
    run(hub.orch.start(pid))
    run(hub.orch.stop(pid))
    secrets = secrets_file(hub.paths.secrets_dir, slug)
    log_file = hub.paths.logs_dir / f"{slug}.log"
    assert secrets.exists() and log_file.exists()
    run(hub.orch.remove(pid, delete_data=True))
    assert hub.store.list() == []
    assert not secrets.exists() and not log_file.exists()
    wiped = [e for e in fake_dagger_env.journal.execs() if "-delete" in " ".join(e["command"])]
    assert len(wiped) == 3  # PostgreSQL's, Redis's and rag_storage's volumes
    wipe_session = wiped[0]["pid"]
    volumes = {c["args"].get("key") for c in fake_dagger_env.journal.calls("cacheVolume", pid=wipe_session)}
    assert volumes == {f"cchub-{slug}-pgdata", f"cchub-{slug}-redis", f"cchub-{slug}-rag-storage"}  # its own only
    assert hub.folder.is_dir()
    fake_dagger_env.sessions_exited(10)


def test_remove_with_its_data_without_an_engine_removes_nothing(hub: EngineHub,
                                                                fake_dagger_env: FakeDagger) -> None:
    pid = hub.add("alpha")
    slug = hub.store.get(pid).data_key
    load_or_create(hub.paths.secrets_dir, slug)
    fake_dagger_env.set(exit_at_start=1)
    with pytest.raises(StackError, match=r"nothing was removed.*Docker is not running"):
        run(hub.orch.remove(pid, delete_data=True))
    assert [p.id for p in hub.store.list()] == [pid]
    assert secrets_file(hub.paths.secrets_dir, slug).exists()
