"""Soak across processes: the app's orchestrator (this process) and two terminals (`cchub up`, `stop`,
`reset-db` and `backup` subprocesses) act on the same three projects at random, without waiting for each
other. After every operation, and after the run has settled at random points, the invariants:

1. at most one stack per project: never two PostgreSQL services running on one data volume;
2. no wipe of a volume in use: no `reset-db` emptied a volume while a PostgreSQL ran on it (checked over
   the journal's timestamps);
3. status equals liveness, once settled: a project is running (to the app and to `cchub status`) exactly
   when a process holds its lease with a running stack, and then its services run in the engine;
4. every process ended as it should: `cchub up` with 0 once stopped, or 1 with one line naming the owner
   when it was refused; no traceback anywhere.

CCHUB_OWNER_SOAK_OPS sets the number of operations (30 by default, CI's short form; 200 for the full run).
CCHUB_SOAK_SEED replays a run: the seed is printed and in every failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_dagger.fixtures import FakeDagger, free_port_block

from cchub_desktop.lease import live_status, owner_of
from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import StackError
from cchub_desktop.store import ProjectStatus, ProjectStore

pytestmark = [pytest.mark.soak, pytest.mark.skipif(os.name != "posix", reason="POSIX signals and flock")]
NAMES = ("alpha", "beta", "gamma")
OPS = int(os.environ.get("CCHUB_OWNER_SOAK_OPS", "30"))
SEED = int(os.environ.get("CCHUB_SOAK_SEED") or random.randrange(1 << 32))
SETTLE_S = 120.0
PGDATA = "/var/lib/postgresql/data"


class Terminals:
    """Two terminals' worth of `cchub` processes."""

    def __init__(self, fake: FakeDagger, logs: Path) -> None:
        self.env = {**os.environ, **fake.env()}
        self.logs = logs
        self.ups: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def up(self, name: str) -> None:
        err = self.logs / f"up-{len(self.ups)}.err"
        with err.open("wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop.cli", "up", name], env=self.env,
                                    stdout=subprocess.DEVNULL, stderr=stderr)
        self.ups.append((name, proc, err))

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "cchub_desktop.cli", *args],
                                       env=self.env, capture_output=True, text=True, timeout=300)


class OwnerSoak:
    def __init__(self, fake: FakeDagger, tmp_path: Path) -> None:
        self.fake = fake
        self.rng = random.Random(SEED)
        self.paths = app_paths()
        self.paths.ensure()
        self.store = ProjectStore(self.paths.db_file)
        self.ids: dict[str, int] = {}
        for name in NAMES:
            folder = tmp_path / name
            folder.mkdir()
            b = free_port_block()
            project = self.store.add(name, folder, backend_port=b.backend, frontend_port=b.frontend,
                                     postgres_port=b.postgres, redis_port=b.redis)
            assert project.id is not None
            self.ids[name] = project.id
        self.keys = {name: self.store.get(pid).data_key for name, pid in self.ids.items()}
        self.orch = Orchestrator(self.store, AppSettings(), self.paths)
        self.orch.reconcile_on_launch()
        self.terminals = Terminals(fake, tmp_path)
        self.done: list[str] = []
        self.background: list[asyncio.Task[Any]] = []
        self.refusals = 0

    def where(self) -> str:
        return f"seed {SEED} (CCHUB_SOAK_SEED={SEED} replays it); operations: {'; '.join(self.done[-15:])}"

    # ----- operations -----------------------------------------------------------------------------------

    async def step(self) -> None:
        name = self.rng.choice(NAMES)
        pid = self.ids[name]
        op = self.rng.choice(["app start", "app start", "app stop", "cli up", "cli up", "cli stop",
                              "cli reset-db", "app backup", "cli backup"])
        self.done.append(f"{op} {name}")
        if op == "app start":
            self.orch.request_start(pid)
        elif op == "app stop":
            self.orch.request_stop(pid)
        elif op == "cli up":
            self.terminals.up(name)
        elif op == "cli stop":
            self.check_one_line(await self.terminals.run("stop", name, "--timeout", "120"), op)
        elif op == "cli reset-db":
            self.check_one_line(await self.terminals.run("reset-db", name, "--yes"), op)
        elif op == "cli backup":
            self.check_one_line(await self.terminals.run("backup", name), op)
        else:
            self.background.append(asyncio.ensure_future(self.app_backup(pid)))

    async def app_backup(self, pid: int) -> None:
        with contextlib.suppress(StackError, RuntimeError):
            await self.orch.backup(pid)

    def check_one_line(self, result: subprocess.CompletedProcess[str], op: str) -> None:
        assert "Traceback" not in result.stderr, f"{op}: {result.stderr}\n{self.where()}"
        if result.returncode != 0:
            self.refusals += 1
            assert result.returncode == 1 and result.stderr.count("\n") <= 2, f"{op}: {result.stderr}\n{self.where()}"

    # ----- invariants -----------------------------------------------------------------------------------

    def volume_of(self, record: dict[str, Any]) -> str | None:
        return next((m["source"] for m in record["mounts"] if m["path"] == PGDATA), None)

    def check_one_stack_per_volume(self) -> None:
        running = [self.volume_of(r) for r in self.fake.journal.running_services() if r["service_kind"] == "postgres"]
        doubled = {v for v in running if running.count(v) > 1}
        assert not doubled, f"two PostgreSQL services on {doubled}\n{self.where()}"

    def check_no_wipe_in_use(self) -> None:
        intervals: dict[tuple[int, str], list[float]] = {}
        volume: dict[tuple[int, str], str | None] = {}
        for rec in self.fake.journal.services():
            key = (rec["pid"], rec["service_id"])
            if rec["event"] == "start" and rec["service_kind"] == "postgres":
                intervals[key] = [rec["ts"], float("inf")]
                volume[key] = self.volume_of(rec)
            elif rec["event"] == "stop" and key in intervals:
                intervals[key][1] = rec["ts"]
        ended = {s.pid: s.records[-1]["ts"] for s in self.fake.journal.sessions() if s.exited}
        for key, span in intervals.items():
            span[1] = min(span[1], ended.get(key[0], float("inf")))
        for wipe in self.fake.journal.execs():
            if "-delete" not in " ".join(wipe["command"]):
                continue
            wiped = {c["args"].get("key") for c in self.fake.journal.calls("cacheVolume", pid=wipe["pid"])}
            for key, (start, stop) in intervals.items():
                assert not (volume[key] in wiped and start <= wipe["ts"] <= stop), (
                    f"{volume[key]} was emptied while a PostgreSQL ran on it\n{self.where()}")

    async def settle(self) -> None:
        """Wait (polling) until nothing is starting or stopping anywhere and the background jobs ended."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S

        def moving() -> bool:
            for name in NAMES:
                owner = owner_of(self.paths.runtime_dir, self.keys[name])
                if owner is not None and owner.state != ProjectStatus.RUNNING.value:
                    return True
            # a `cchub up` just launched that has neither taken its lease nor exited (refused) yet is still moving:
            # on a slow machine its imports take long, and it may take the lease right after a status check
            for name, proc, _err in self.terminals.ups:
                if proc.poll() is None:
                    owner = owner_of(self.paths.runtime_dir, self.keys[name])
                    if owner is None or owner.pid != proc.pid:
                        return True
            return any(self.orch.state(pid) in (ProjectStatus.STARTING, ProjectStatus.STOPPING)
                       for pid in self.ids.values()) or not all(t.done() for t in self.background)

        def what() -> str:
            owners = {n: owner_of(self.paths.runtime_dir, self.keys[n]) for n in NAMES}
            app = {n: self.orch.state(pid).value for n, pid in self.ids.items()}
            jobs = sum(not t.done() for t in self.background)
            ups = [f"{n} (pid {p.pid})" for n, p, _e in self.terminals.ups if p.poll() is None]
            return f"leases {owners}; app {app}; background jobs running {jobs}; cchub up alive {ups}"

        while moving():
            self.orch.poll_others()   # what the window's follower does once a second
            assert loop.time() < deadline, f"did not settle in {SETTLE_S} s: {what()}\n{self.where()}"
            await asyncio.sleep(0.05)   # polling for the condition above
        await self.orch.flush()

    async def check_status_is_liveness(self) -> None:
        await self.settle()
        report = await self.terminals.run("status", "--json")
        shown = {item["name"]: item["status"] for item in json.loads(report.stdout)}
        rows = [(p.id, p.data_key, p.status, p.last_error) for p in self.store.list() if p.id is not None]
        self.orch.poll_others(rows)   # what the window's follower does when the store changed
        live_volumes = {self.volume_of(r) for r in self.fake.journal.running_services()
                        if r["service_kind"] == "postgres"}
        for name in NAMES:
            owner = owner_of(self.paths.runtime_dir, self.keys[name])
            runs = owner is not None and owner.state == ProjectStatus.RUNNING.value
            in_engine = f"cchub-{self.keys[name]}-pgdata" in live_volumes
            assert runs == in_engine, f"{name}: lease says running={runs}, engine {in_engine}\n{self.where()}"
            record = self.store.get(self.ids[name]).status
            expected = live_status(record, owner)
            assert shown[name] == expected, f"{name}: cchub status {shown[name]}, lease {expected}\n{self.where()}"
            assert self.orch.state(self.ids[name]).value == expected, (
                f"{name}: the app shows {self.orch.state(self.ids[name])}, lease {expected}\n{self.where()}")

    async def finish(self) -> None:
        await self.orch.aclose()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_S
        # a `cchub up` launched just before may take its lease only after a stop found nothing to stop (as
        # it would for a user): stop again until every one has ended
        said: dict[str, str] = {}
        while any(proc.poll() is None for _, proc, _ in self.terminals.ups):
            alive = [(n, proc.pid, owner_of(self.paths.runtime_dir, self.keys[n]))
                     for n, proc, _ in self.terminals.ups if proc.poll() is None]
            assert loop.time() < deadline, (f"a cchub up did not stop in {SETTLE_S} s: {alive}; cchub stop said "
                                            f"{said}\n{self.where()}")
            for name in {n for n, _, _ in alive}:
                result = await self.terminals.run("stop", name, "--timeout", "120")
                said[name] = result.stdout + result.stderr
                self.check_one_line(result, f"final stop {name}")
            await asyncio.sleep(0.2)   # polling the processes
        for name, proc, err in self.terminals.ups:
            code = proc.wait()
            text = err.read_text(errors="replace")
            assert "Traceback" not in text, f"cchub up {name}: {text}\n{self.where()}"
            if code == 1:
                self.refusals += 1
            assert code == 0 or (code == 1 and text.count("\n") <= 2), f"cchub up {name} exited {code}: {text}"


def test_the_app_and_two_terminals_never_share_a_project(fake_dagger_env: FakeDagger, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\nowner soak: {OPS} operations, seed {SEED} (CCHUB_SOAK_SEED={SEED} replays it)")
    soak = OwnerSoak(fake_dagger_env, tmp_path)

    async def scenario() -> None:
        try:
            for i in range(OPS):
                await soak.step()
                soak.check_one_stack_per_volume()
                if soak.rng.random() < 0.15 or i == OPS - 1:
                    await soak.check_status_is_liveness()
        finally:
            await soak.finish()

    try:
        asyncio.run(scenario())
    finally:
        soak.store.close()
    soak.check_one_stack_per_volume()
    soak.check_no_wipe_in_use()
    starts = [r for r in fake_dagger_env.journal.services("start") if r["service_kind"] == "postgres"]
    assert starts, "no stack ever started: the soak checked nothing"
    fake_dagger_env.sessions_exited(30)
    with capsys.disabled():
        print(f"owner soak: {len(starts)} PostgreSQL starts, {soak.refusals} refusals, "
              f"{sum('-delete' in ' '.join(e['command']) for e in fake_dagger_env.journal.execs())} volume wipes")
