"""The fault matrix against the fake engine, through the orchestrator the app uses.

Each row breaks one thing while another project (the bystander) is running. For each: the project ends in
`error` with a message that says what happened and what to do (also stored as its last error), nothing of it
is left listening, no session process of it outlives the failure, and the bystander still runs and answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock, free_port_block
from fake_dagger.sdk_helpers import http_get

from cchub_desktop import ports
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.helpers import listen_on

S = ProjectStatus
TIMEOUT = 60.0


@dataclass
class Hub:
    """The app's core on a fresh CCHUB_HOME: store, orchestrator, events; projects on free port blocks."""

    fake: FakeDagger
    folder: Path
    store: ProjectStore = field(init=False)
    orch: Orchestrator = field(init=False)
    events: list[OrchestratorEvent] = field(default_factory=list)
    blocks: dict[int, FreePortBlock] = field(default_factory=dict)
    held: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        paths = app_paths()
        paths.ensure()
        self.store = ProjectStore(paths.db_file)
        self.orch = Orchestrator(self.store, AppSettings(), paths)
        self.orch.reconcile_on_launch()
        self.orch.subscribe(self.events.append)

    def add(self, name: str) -> int:
        block = free_port_block()
        project = self.store.add(name, self.folder, **{f"{k}_port": v for k, v in block.as_dict().items()})
        assert project.id is not None
        self.blocks[project.id] = block
        return project.id

    def session_pids(self) -> set[int]:
        return {s.pid for s in self.fake.journal.sessions()}

    def assert_left_nothing(self, pid: int, sessions: set[int]) -> None:
        """Project `pid` holds no port, and the sessions it opened (`sessions`) have all exited."""
        block = self.blocks[pid]
        assert all(ports.is_port_free(p) for p in block.as_dict().values()), block
        self.fake.journal.wait_sessions_exited(15, pids=sessions)
        assert not [r for r in self.fake.journal.running_services() if r["pid"] in sessions]
        assert not [r for r in self.fake.journal.open_tunnels() if r["pid"] in sessions]


@pytest.fixture
def hub(fake_dagger_env: FakeDagger, project_dir: Path) -> Iterator[Hub]:
    h = Hub(fake_dagger_env, project_dir)
    yield h
    asyncio.run(asyncio.wait_for(h.orch.aclose(), TIMEOUT))
    for sock in h.held:
        sock.close()
    h.store.close()


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, TIMEOUT))  # type: ignore[arg-type]


async def until(cond: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


async def bystander_answers(hub: Hub, pid: int) -> None:
    status, _body = await asyncio.to_thread(http_get, hub.blocks[pid].frontend, "/")
    assert status == 200
    status, body = await asyncio.to_thread(http_get, hub.blocks[pid].backend, "/health")
    assert status == 200 and b"healthy" in body


@dataclass(frozen=True)
class Fault:
    id: str
    knobs: dict[str, object]
    message: str          # what the user reads (a fragment)
    step: str             # what it says about what to do (a fragment)


NO_MATCHING = "ERROR: No matching distribution found for fastapi==99"
FAULTS = [
    Fault("engine dies mid-start", {"die_on": "Service.start:2"},
          "The connection to the Dagger engine was lost while starting", "Check that Docker is running"),
    Fault("no container runtime", {"exit_at_start": 1}, "Docker is not running",
          "`cchub doctor` checks the engine setup"),
    Fault("pip install fails", {"exec_fail": f"pip install:1:{NO_MATCHING}"},
          "Building the backend failed: `pip install -r requirements.txt "
          "-c /app/constraints.txt` exited with code 1.", NO_MATCHING),
    Fault("npm ci fails", {"exec_fail": "npm ci:1:npm ERR! code EUSAGE\\nnpm ERR! lockfile out of date"},
          "Building the frontend failed: `npm ci` exited with code 1.", "lockfile out of date"),
    Fault("migrations fail", {"exec_fail": "alembic upgrade:1:sqlalchemy.exc.ProgrammingError: relation exists"},
          "The database migrations failed: sqlalchemy.exc.ProgrammingError: relation exists.", "relation exists"),
    Fault("postgres fails", {"exec_fail": "docker-entrypoint.sh postgres:1:initdb: error: directory not empty"},
          "Starting PostgreSQL failed", "directory not empty"),
    Fault("redis fails", {"exec_fail": "redis-server:1:FATAL CONFIG FILE ERROR"},
          "Starting Redis failed", "FATAL CONFIG FILE ERROR"),
    Fault("vite fails", {"exec_fail": "vite:1:Error: Port 3000 is already in use"},
          "Starting the frontend failed: `npx vite", "Port 3000 is already in use"),
    Fault("image not found", {"image_missing": "node:20-alpine"},
          "An image could not be pulled while", "Check the image names in Settings"),
    Fault("git source unreachable", {"git_fail": 1},
          "The CommandCenter source could not be fetched", "Check the git URL and ref in Settings"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_a_fault_fails_only_its_project_with_a_message_and_leaves_nothing(hub: Hub, fault: Fault) -> None:
    bystander = hub.add("bystander")
    victim = hub.add("victim")

    pids: dict[str, set[int]] = {}

    async def scenario() -> None:
        await hub.orch.start(bystander)
        assert hub.orch.state(bystander) == S.RUNNING, hub.orch.message(bystander)
        pids["bystander"] = hub.session_pids()
        hub.fake.set(**fault.knobs)   # read by sessions started from now on: only the victim's
        await hub.orch.start(victim)
        assert hub.orch.state(victim) == S.ERROR
        await bystander_answers(hub, bystander)
        pids["victim"] = hub.session_pids() - pids["bystander"]

    run(scenario())
    message = hub.orch.message(victim) or ""
    assert fault.message in message and fault.step in message, message
    assert "Traceback" not in message
    assert hub.store.get(victim).last_error == message and hub.store.get(victim).status == "error"
    assert [e.message for e in hub.events if e.project_id == victim and e.status == S.ERROR] == [message]
    hub.assert_left_nothing(victim, pids["victim"])
    assert hub.orch.state(bystander) == S.RUNNING
    assert not any(s.exited for s in hub.fake.journal.sessions() if s.pid in pids["bystander"])


def test_a_port_taken_between_the_check_and_the_tunnel(hub: Hub) -> None:
    bystander, victim = hub.add("bystander"), hub.add("victim")
    frontend = hub.blocks[victim].frontend

    def grab(event: OrchestratorEvent) -> None:
        if event.project_id == victim and event.phase == "tunnels" and not hub.held:
            hub.held.append(listen_on(frontend, "0.0.0.0"))   # another program binds it now

    hub.orch.subscribe(grab)

    async def scenario() -> None:
        await hub.orch.start(bystander)
        await hub.orch.start(victim)
        await bystander_answers(hub, bystander)

    run(scenario())
    message = hub.orch.message(victim) or ""
    assert message.startswith(f"Port {frontend} (frontend) is already in use by ") and f"(pid {os.getpid()})" in message
    assert "give this project another frontend port" in message
    for sock in hub.held:
        sock.close()
    hub.held.clear()
    victim_sessions = {s.pid for s in hub.fake.journal.sessions()[1:]}
    hub.assert_left_nothing(victim, victim_sessions)
    assert hub.orch.state(bystander) == S.RUNNING


def test_a_port_held_before_start_is_refused_without_a_session(hub: Hub) -> None:
    victim = hub.add("victim")
    hub.held.append(listen_on(hub.blocks[victim].backend, "0.0.0.0"))
    run(hub.orch.start(victim))
    message = hub.orch.message(victim) or ""
    assert message.startswith(f"Port {hub.blocks[victim].backend} (backend) is already in use by ")
    assert hub.fake.journal.sessions() == []


def test_no_cli_and_no_network_on_a_first_run(hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = hub.add("victim")
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_CLI_BIN")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))   # nothing downloaded before
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))               # no dagger installed
    with socket.socket() as closed:                                        # a proxy that refuses: no network
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, dead)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    run(hub.orch.start(victim))
    message = hub.orch.message(victim) or ""
    assert "not installed and could not be downloaded" in message and "Settings" in message
    assert hub.orch.state(victim) == S.ERROR and hub.fake.journal.sessions() == []


def test_an_engine_that_dies_while_running_fails_only_that_project(hub: Hub) -> None:
    bystander, victim = hub.add("bystander"), hub.add("victim")

    async def scenario() -> int:
        await hub.orch.start(bystander)
        before = hub.session_pids()
        await hub.orch.start(victim)
        assert hub.orch.state(victim) == S.RUNNING
        (session,) = hub.session_pids() - before
        os.kill(session, signal.SIGKILL)                         # the victim's engine session dies
        await until(lambda: hub.orch.state(victim) == S.ERROR, timeout=30)
        await bystander_answers(hub, bystander)
        return session

    sessions: list[int] = []

    async def go() -> None:
        sessions.append(await scenario())

    run(go())
    message = hub.orch.message(victim) or ""
    assert "ended unexpectedly" in message and "start the project again" in message
    hub.assert_left_nothing(victim, set(sessions))
    assert hub.orch.state(bystander) == S.RUNNING and hub.store.get(victim).status == "error"


def test_quitting_while_a_start_is_in_flight_leaves_nothing(hub: Hub) -> None:
    hub.fake.set(start_delay=30)
    victim = hub.add("victim")

    async def scenario() -> None:
        start = asyncio.ensure_future(hub.orch.start(victim))
        await until(lambda: hub.orch.phase(victim) in ("postgres", "redis"))
        await hub.orch.aclose()                                  # what the app's quit awaits
        await start

    run(scenario())
    assert hub.orch.state(victim) == S.STOPPED and hub.store.get(victim).status == "stopped"
    hub.assert_left_nothing(victim, hub.session_pids())
