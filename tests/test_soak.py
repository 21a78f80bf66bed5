"""Soak: random start / stop / add / remove / backup / engine-kill / quit-and-restart operations across up to
five projects, through the orchestrator the app uses, against the fake engine; then the invariants.

Operations overlap: a start is only requested, and the next operation comes while it is in flight; removes
and backups run in the background. At random points (and at the end) everything is left to settle and
checked: every state is at rest and recorded in the database, the engine runs exactly the running projects'
services and tunnels (one live session each), no port of anything else is held, and the database is intact.

CCHUB_SOAK_OPS sets the number of operations: 40 by default (CI's short form, well under a minute), 200 for
the full run (about two minutes). CCHUB_SOAK_SEED replays a run; the seed is printed and in every failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock, free_port_block
from fake_dagger.sdk_helpers import http_get

from cchub_desktop import ports
from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterStack, StackError
from cchub_desktop.store import ProjectStatus, ProjectStore, ValidationError

S = ProjectStatus
NAMES = ("alpha", "beta", "gamma", "delta", "epsilon")
AT_REST = (S.STOPPED, S.RUNNING, S.ERROR)
SETTLE_TIMEOUT = 60.0
OPS = int(os.environ.get("CCHUB_SOAK_OPS", "40"))
SEED = int(os.environ.get("CCHUB_SOAK_SEED") or random.randrange(1 << 32))
# PostgreSQL, Redis, NATS, the backend, the Celery worker and beat, the frontend (the test engine runs NATS and
# Celery as generic services)
SERVICE_KINDS = ["postgres", "redis", "generic", "uvicorn", "generic", "generic", "vite"]


class Soak:
    def __init__(self, fake: FakeDagger, folder: Path, rng: random.Random) -> None:
        self.fake = fake
        self.folder = folder
        self.rng = rng
        self.paths = app_paths()
        self.paths.ensure()
        self.blocks: dict[str, FreePortBlock] = {}
        self.expected: set[str] = set()          # the projects that should exist
        self.background: list[asyncio.Task[None]] = []
        self.done: list[str] = []                # the operations so far, for a failure message
        self.changed = asyncio.Event()
        self.tally: Counter[str] = Counter()     # state changes seen, and operations that did something
        self.open()

    # ----- the app's core, as a launch builds it ---------------------------------------------------------

    def open(self) -> None:
        self.store = ProjectStore(self.paths.db_file)
        # a short heartbeat so a killed engine is noticed within a second or two (the product's is 5 s)
        factory = functools.partial(CommandCenterStack, heartbeat_interval=0.3)
        self.orch = Orchestrator(self.store, AppSettings(), self.paths, stack_factory=factory)
        self.orch.reconcile_on_launch()
        self.orch.subscribe(self._on_event)

    def _on_event(self, event: OrchestratorEvent) -> None:
        self.changed.set()
        if event.phase is None or event.status != S.STARTING:
            self.tally[event.status.value] += 1

    def ids(self) -> dict[str, int]:
        return {p.name: p.id for p in self.store.list() if p.id is not None}

    def pick(self) -> tuple[str, int] | None:
        ids = self.ids()
        if not ids:
            return None
        name = self.rng.choice(sorted(ids))
        return name, ids[name]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.background.append(asyncio.get_running_loop().create_task(coro))

    # ----- operations ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if (picked := self.pick()) is not None:
            self.fake.set(start_delay=self.rng.choice([None, None, 0.3]))   # sometimes a slow start
            self.orch.request_start(picked[1])

    async def stop(self) -> None:
        if (picked := self.pick()) is not None:
            self.orch.request_stop(picked[1])

    async def add(self) -> None:
        missing = [n for n in NAMES if n not in self.ids()]
        if not missing:
            return
        name = self.rng.choice(missing)
        block = free_port_block()
        try:
            self.store.add(name, self.folder, **{f"{k}_port": v for k, v in block.as_dict().items()})
        except ValidationError as exc:   # the same name is being removed in the background right now
            assert exc.field == "name", exc
            return
        self.blocks[name] = block
        self.expected.add(name)

    async def remove(self) -> None:
        if (picked := self.pick()) is None:
            return
        name, pid = picked
        delete_data = self.rng.random() < 0.3

        async def run() -> None:
            try:
                await self.orch.remove(pid, delete_data=delete_data)
            except RuntimeError as exc:   # it is active, or another remove of it runs: refused, and said so
                assert "Stop the project before removing it" in str(exc)
                return
            self.expected.discard(name)
            self.tally["removes"] += 1

        self.spawn(run())

    async def backup(self) -> None:
        if (picked := self.pick()) is None:
            return

        async def run() -> None:
            with contextlib.suppress(KeyError):   # removed meanwhile
                try:
                    dump = await self.orch.backup(picked[1])
                except StackError as exc:        # it started, stopped or died meanwhile: said, not crashed
                    assert exc.user_message and "Unexpected error" not in exc.user_message, exc.user_message
                    self.tally["backups refused"] += 1
                    return
                assert "PostgreSQL database dump" in dump.read_text()
                self.tally["backups"] += 1

        self.spawn(run())

    async def kill_engine(self) -> None:
        """The engine behind one running project dies (its session process is killed)."""
        running = {n: pid for n, pid in self.ids().items() if self.orch.state(pid) == S.RUNNING}
        if not running:
            return
        name = self.rng.choice(sorted(running))
        for tunnel in self.fake.journal.open_tunnels():
            if any(p["frontend"] == self.blocks[name].frontend for p in tunnel["ports"]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(tunnel["pid"], signal.SIGKILL)
                    self.tally["engine kills"] += 1
                return

    async def let_run(self) -> None:
        """Let whatever is in flight make progress: until the next state change (if anything is moving)."""
        if any(self.orch.state(pid) not in AT_REST for pid in self.ids().values()):
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 10)

    async def quit_and_restart(self) -> None:
        await self.settle()
        await self.orch.aclose()
        self.fake.sessions_exited(15)
        self.store.close()
        check_database(self.paths.db_file, self.expected)
        self.open()
        self.tally["restarts"] += 1
        for pid in self.ids().values():
            assert self.orch.state(pid) in (S.STOPPED, S.ERROR)

    # ----- settling and invariants ------------------------------------------------------------------------

    async def settle(self) -> None:
        async with asyncio.timeout(SETTLE_TIMEOUT):
            while self.background:
                await asyncio.gather(*self.background)
                self.background = [t for t in self.background if not t.done()]
            while any(self.orch.state(pid) not in AT_REST for pid in self.ids().values()):
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 1)
            await self.orch.flush()
        self.fake.set(start_delay=None)

    def running(self) -> list[str]:
        return sorted(n for n, pid in self.ids().items() if self.orch.state(pid) == S.RUNNING)

    def engine_agrees(self) -> bool:
        """The engine runs what the orchestrator says runs: a live session and two tunnels per running
        project. (A killed engine is noticed by the stack's heartbeat a moment later.)"""
        running = self.running()
        live = [s for s in self.fake.journal.sessions() if not s.exited]
        forwarded = sorted(p["frontend"] for t in self.fake.journal.open_tunnels() for p in t["ports"])
        wanted = sorted(port for n in running for port in (self.blocks[n].frontend, self.blocks[n].backend))
        return len(live) == len(running) and forwarded == wanted

    async def check(self) -> None:
        """Everything at rest agrees: the orchestrator, the database, the engine and the machine's ports."""
        await self.settle()
        async with asyncio.timeout(15):
            while not self.engine_agrees():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.5)
                await self.settle()
        projects = {p.name: p for p in self.store.list()}
        assert set(projects) == self.expected
        states = {name: self.orch.state(p.id) for name, p in projects.items() if p.id is not None}
        for name, project in projects.items():
            assert states[name] in AT_REST, (name, states[name])
            assert project.status == states[name].value, (name, project.status, states[name])
        running = sorted(n for n, s in states.items() if s == S.RUNNING)
        tunnels = self.fake.journal.open_tunnels()
        by_session: dict[int, list[str]] = {}
        for service in self.fake.journal.running_services():
            by_session.setdefault(service["pid"], []).append(service["service_kind"])
        assert sorted(by_session) == sorted({t["pid"] for t in tunnels})
        assert all(sorted(kinds) == sorted(SERVICE_KINDS) for kinds in by_session.values()), by_session

        # the machine: running projects answer, every other port of every project is free
        for name, block in self.blocks.items():
            for role, port in block.as_dict().items():
                if name in running and role in ("frontend", "backend"):
                    status, _ = await asyncio.to_thread(http_get, port, "/health" if role == "backend" else "/")
                    assert status == 200, (name, role, port)
                else:
                    assert ports.is_port_free(port), (name, role, port, states.get(name))

    async def finish(self) -> None:
        await self.check()
        await self.orch.aclose()
        self.fake.sessions_exited(15)
        self.store.close()
        check_database(self.paths.db_file, self.expected)
        for name, block in self.blocks.items():
            assert all(ports.is_port_free(p) for p in block.as_dict().values()), name
        assert child_processes() == []


def check_database(db_file: Path, names: set[str]) -> None:
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT name, status FROM project").fetchall()
    assert {name for name, _ in rows} == names
    assert all(status in ("stopped", "error") for _, status in rows), rows


def child_processes() -> list[str]:
    """This process's children (the fake engine's session processes are ours), zombies included."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            found.append(f"{entry.name} {stat[: stat.rfind(')') + 1]} state {fields[0]}")
    return found


WEIGHTS: dict[str, int] = {"start": 30, "stop": 18, "let_run": 14, "check": 8, "add": 8, "remove": 8,
                           "backup": 6, "kill_engine": 4, "quit_and_restart": 4}


@pytest.mark.soak
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts child processes through /proc")
def test_soak_random_lifecycle_operations_keep_every_invariant(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\nsoak: seed {SEED}, {OPS} operations (replay with CCHUB_SOAK_SEED={SEED} CCHUB_SOAK_OPS={OPS})")
    rng = random.Random(SEED)
    choices, weights = zip(*WEIGHTS.items(), strict=True)
    done: list[str] = []

    async def scenario() -> Soak:
        soak = Soak(fake_dagger_env, project_dir, rng)
        soak.done = done
        for _ in range(3):
            await soak.add()
        for n in range(OPS):
            op = rng.choices(choices, weights)[0]
            soak.done.append(f"{n}:{op}")
            operation: Callable[[], Coroutine[Any, Any, None]] = getattr(soak, op)
            await operation()
        await soak.finish()
        return soak

    began = time.monotonic()
    try:
        soak = asyncio.run(asyncio.wait_for(scenario(), 60 + OPS * 5))
    except BaseException as exc:
        raise AssertionError(f"soak failed (seed {SEED}, {OPS} operations; replay with CCHUB_SOAK_SEED={SEED} "
                             f"CCHUB_SOAK_OPS={OPS}) after {', '.join(done[-12:])}: {type(exc).__name__}: "
                             f"{exc}") from exc
    with capsys.disabled():
        seen = ", ".join(f"{n} {k}" for k, n in sorted(soak.tally.items()))
        print(f"soak: {OPS} operations in {time.monotonic() - began:.1f} s; {seen}")
