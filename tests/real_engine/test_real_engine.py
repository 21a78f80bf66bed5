"""End-to-end on a real Dagger engine (docs/real-engine.md): the seven-service stack to healthy, its tunnels
answering from the host, NATS, the Celery worker and beat at work, stop freeing the ports, a second start seeing
the first start's rows; a row outliving a full local-cache prune (restored from the host copy); backup, restore,
and remove --delete-data emptying the project's volumes.

Runs only when CCHUB_REAL_ENGINE names a reachable engine (e.g. unix:///run/dagger/engine.sock) and a v0.21
CLI is known (CCHUB_REAL_ENGINE_CLI, _EXPERIMENTAL_DAGGER_CLI_BIN or `dagger` on PATH); skips saying why
otherwise. CI builds no engine, so there it skips."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from cchub_desktop.ports import is_port_free, next_free_block
from tests.cli_process import cchub, start_cchub
from tests.real_engine.runnable_tree import write_runnable_tree

ENGINE_ENV = "CCHUB_REAL_ENGINE"
HERE = Path(__file__).parent
FIRST_BUILD_BOUND = 1200.0  # a first build installs the backend's and frontend's packages
STOP_BOUND = 180.0          # a stop waits for the host copy (up to 120 s) before it ends the session
PRUNE_BOUND = 600.0
RESTORED = "the engine had discarded this project's database; restored the copy of "


def _engine_problem(address: str) -> str | None:
    """Why the engine at `address` cannot be used, or None when it answers."""
    if not address:
        return f"{ENGINE_ENV} is not set (it names a running Dagger engine; see docs/real-engine.md)"
    if address.startswith("unix://"):
        path = address.removeprefix("unix://")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(path)
        except OSError as exc:
            return f"{ENGINE_ENV}={address}: the engine socket does not answer ({exc})"
        return None
    if address.startswith("tcp://"):
        host, _, port = address.removeprefix("tcp://").rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            return f"{ENGINE_ENV}={address}: the engine does not answer ({exc})"
        return None
    return f"{ENGINE_ENV}={address}: only unix:// and tcp:// engines are checked by this lane"


def _cli() -> str | None:
    for candidate in (os.environ.get("CCHUB_REAL_ENGINE_CLI", ""), os.environ.get("_EXPERIMENTAL_DAGGER_CLI_BIN", "")):
        if candidate.strip():
            return candidate.strip()
    return shutil.which("dagger")


@pytest.fixture()
def real_engine() -> str:
    address = os.environ.get(ENGINE_ENV, "").strip()
    problem = _engine_problem(address)
    if problem is not None:
        pytest.skip(f"no real Dagger engine: {problem}")
    if _cli() is None:
        pytest.skip("no real Dagger engine CLI: set CCHUB_REAL_ENGINE_CLI to a dagger v0.21 binary")
    return address


class _Up:
    """A `cchub up` in its own process; its output and error lines collected by threads."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.proc = start_cchub("up", project)
        self.lines: list[str] = []
        self.errors: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def wait_healthy(self, bound: float) -> None:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if any(line.endswith("] healthy") for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        pytest.fail("the stack did not become healthy:\n" + "\n".join(self.lines[-40:] + self.errors[-40:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            cchub("stop", self.project, timeout=STOP_BOUND)
        code = self.proc.wait(timeout=STOP_BOUND)
        for reader in self._readers:
            reader.join(timeout=STOP_BOUND)
        return code


def _poll(done: Callable[[], bool], failure: str, bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(1)


def _get(url: str, method: str = "GET") -> str:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


@pytest.fixture()
def real_project(real_engine: str, tmp_path: Path, cchub_home: Path) -> Iterator[dict[str, int]]:
    tree = write_runnable_tree(tmp_path / "commandcenter",
                               (HERE / "frontend-package-lock.json").read_text(encoding="utf-8"))
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.md").write_text("a project folder\n", encoding="utf-8")
    settings = {"dagger_cli_path": _cli(), "runner_host": real_engine, "source_local_dir": str(tree)}
    cchub_home.mkdir(parents=True, exist_ok=True)
    (cchub_home / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    block = next_free_block([], expose_db=False)
    ports = {"frontend": block.frontend, "backend": block.backend}
    added = cchub("add", "real", str(folder), "--frontend-port", str(block.frontend), "--backend-port",
                  str(block.backend), "--postgres-port", str(block.postgres), "--redis-port", str(block.redis))
    assert added.returncode == 0, added.stderr
    yield ports
    cchub("remove", "real", "--delete-data", "--yes", timeout=STOP_BOUND)


def test_a_real_stack_gets_healthy_answers_on_its_ports_frees_them_and_keeps_its_rows(
        real_project: dict[str, int]) -> None:
    backend = f"http://127.0.0.1:{real_project['backend']}"
    first = _Up("real")
    first.wait_healthy(FIRST_BUILD_BOUND)
    assert json.loads(_get(f"{backend}/health")) == {"status": "healthy"}
    assert "CommandCenter frontend" in _get(f"http://127.0.0.1:{real_project['frontend']}/")
    assert json.loads(_get(f"{backend}/nats"))["jetstream"] == "True"   # NATS runs, with JetStream (-js)
    # the Celery worker takes a task from the Redis broker, and beat's schedule reaches the worker
    assert json.loads(_get(f"{backend}/tasks/echo?text=hello", method="POST")) == {"result": "worker says hello"}
    _poll(lambda: json.loads(_get(f"{backend}/tasks/ticks"))["ticks"] > 0, "no beat tick reached the worker")
    _get(f"{backend}/notes?body=written-by-the-first-start", method="POST")
    assert first.stop() == 0
    assert all(is_port_free(port) for port in real_project.values()), "a stopped stack still holds a port"

    second = _Up("real")
    second.wait_healthy(FIRST_BUILD_BOUND)
    assert json.loads(_get(f"{backend}/notes")) == ["written-by-the-first-start"]
    assert second.stop() == 0


def _prune_the_engine_cache(engine: str) -> str:
    """`dagger core engine local-cache prune` without --use-default-policy: every releasable cache entry,
    stopped projects' volumes included, as a user freeing disk space would run it."""
    cli = _cli()
    assert cli is not None
    env = {**os.environ, "_EXPERIMENTAL_DAGGER_RUNNER_HOST": engine, "DO_NOT_TRACK": "1", "DAGGER_NO_NAG": "1"}
    pruned = subprocess.run([cli, "--progress=plain", "core", "engine", "local-cache", "prune"], env=env,
                            capture_output=True, text=True, timeout=PRUNE_BOUND, check=False)
    assert pruned.returncode == 0, pruned.stderr[-2000:]
    return pruned.stdout


def test_a_row_outlives_a_full_prune_of_the_engine_cache_and_the_start_says_it_restored_it(
        real_engine: str, real_project: dict[str, int]) -> None:
    backend = f"http://127.0.0.1:{real_project['backend']}"
    first = _Up("real")
    first.wait_healthy(FIRST_BUILD_BOUND)
    _get(f"{backend}/notes?body=written-before-the-prune", method="POST")
    stopping = time.monotonic()
    assert first.stop() == 0
    print(f"stop with the host copy: {time.monotonic() - stopping:.1f} s")   # measured, not asserted
    (row,) = json.loads(cchub("list", "--json").stdout)
    assert row["host_copy"]["state"] == "ok" and row["host_copy"]["copies"] >= 1, row["host_copy"]

    pruning = time.monotonic()
    _prune_the_engine_cache(real_engine)
    print(f"local-cache prune: {time.monotonic() - pruning:.1f} s")

    starting = time.monotonic()
    second = _Up("real")
    second.wait_healthy(FIRST_BUILD_BOUND)
    print(f"start after the prune, to healthy: {time.monotonic() - starting:.1f} s")
    assert json.loads(_get(f"{backend}/notes")) == ["written-before-the-prune"]
    assert second.stop() == 0
    log = cchub("logs", "real", "--service", "hub").stdout
    said = [line for line in log.splitlines() if "copy" in line]
    print("\n".join(said))
    assert any(RESTORED in line for line in said), log[-4000:]


def _volume_entries(volumes: dict[str, tuple[str, str]]) -> dict[str, int]:
    """How many files and folders each cache volume (name -> the stack's sharing mode and owner: the engine
    keeps one volume per name, sharing and owner) holds on the engine, seen from a fresh session."""
    import asyncio

    import dagger

    async def count() -> dict[str, int]:
        counts: dict[str, int] = {}
        async with dagger.Connection(dagger.Config(retry=None)) as client:
            for name, (sharing, owner) in volumes.items():
                out = await (client.container().from_("pgvector/pgvector:pg16")
                             .with_env_variable("CCHUB_LANE_AT", str(time.time_ns()))
                             .with_mounted_cache("/volume", client.cache_volume(name),
                                                 sharing=dagger.CacheSharingMode[sharing], owner=owner)
                             .with_exec(["sh", "-c", "find /volume -mindepth 1 | wc -l"]).stdout())
                counts[name] = int(out.strip())
        return counts

    return asyncio.run(count())


def test_backup_restore_and_remove_with_data_on_the_seven_service_stack(
        real_engine: str, real_project: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    backend = f"http://127.0.0.1:{real_project['backend']}"
    first = _Up("real")
    first.wait_healthy(FIRST_BUILD_BOUND)
    _get(f"{backend}/notes?body=in-the-backup", method="POST")
    assert first.stop() == 0
    began = time.monotonic()
    backed = cchub("backup", "real", timeout=STOP_BOUND)
    print(f"backup: {time.monotonic() - began:.1f} s")   # measured, not asserted
    assert backed.returncode == 0, backed.stderr
    dump = backed.stdout.strip().rpartition(" to ")[2]
    assert Path(dump).is_file(), backed.stdout

    second = _Up("real")
    second.wait_healthy(FIRST_BUILD_BOUND)
    _get(f"{backend}/notes?body=after-the-backup", method="POST")
    assert second.stop() == 0
    began = time.monotonic()
    restored = cchub("restore", "real", dump, timeout=STOP_BOUND)
    print(f"restore: {time.monotonic() - began:.1f} s")
    assert restored.returncode == 0, restored.stderr

    third = _Up("real")
    third.wait_healthy(FIRST_BUILD_BOUND)
    assert json.loads(_get(f"{backend}/notes")) == ["in-the-backup"]
    assert third.stop() == 0
    print("\n".join(line for line in cchub("logs", "real", "--service", "hub").stdout.splitlines()
                    if "copy" in line or "marker" in line))

    (row,) = json.loads(cchub("list", "--json").stdout)
    key = Path(row["host_copy"]["folder"]).name
    volumes = {f"cchub-{key}-pgdata": ("LOCKED", "postgres"), f"cchub-{key}-redis": ("LOCKED", ""),
               f"cchub-{key}-rag-storage": ("SHARED", "")}
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", real_engine)
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(_cli()))
    before = _volume_entries(volumes)
    print(f"entries before the removal: {before}")
    assert before[f"cchub-{key}-pgdata"] > 0   # the database is there before the removal
    began = time.monotonic()
    removed = cchub("remove", "real", "--delete-data", "--yes", timeout=STOP_BOUND)
    print(f"remove --delete-data: {time.monotonic() - began:.1f} s")
    assert removed.returncode == 0, removed.stderr
    assert _volume_entries(volumes) == dict.fromkeys(volumes, 0)
    assert not Path(row["host_copy"]["folder"]).exists()   # the host copies went with the data


def test_the_lane_says_why_it_skips(tmp_path: Path) -> None:
    assert ENGINE_ENV in str(_engine_problem(""))
    dead = tmp_path / "engine.sock"
    assert "does not answer" in str(_engine_problem(f"unix://{dead}"))


def test_the_window_runs_a_real_stack_in_its_runner_backs_it_up_there_and_stops_it(
        real_engine: str, real_project: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the app does on a Start: a runner process (`python -m cchub_desktop.runner`), followed through its
    lease and log file; a backup of the running project taken in the runner's session; Stop from the window.
    Then the window's engine jobs, each a `cchub … --json` process of its own (engine_jobs.py): a backup of the
    stopped project, and its removal with its data."""
    import asyncio

    from cchub_desktop.lease import RUNNER, owner_of
    from cchub_desktop.orchestrator import Orchestrator
    from cchub_desktop.paths import app_paths
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.store import ProjectStatus, ProjectStore

    volumes: dict[str, tuple[str, str]] = {}
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", real_engine)   # for counting the volumes' entries
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(_cli()))

    async def scenario() -> None:
        paths = app_paths()
        store = ProjectStore(paths.db_file)
        settings = AppSettings.load(paths.settings_file)
        orch = Orchestrator(store, settings, paths, runners=True)
        orch.reconcile_on_launch()
        pid = store.get_by_name("real").id
        assert pid is not None
        try:
            await asyncio.wait_for(orch.start(pid), FIRST_BUILD_BOUND)
            assert orch.state(pid) == ProjectStatus.RUNNING, orch.message(pid)
            owner = owner_of(paths.runtime_dir, store.get(pid).data_key)
            assert owner is not None and owner.kind == RUNNER and owner.health == "healthy"
            services = {line.service for line in orch.log(pid).lines()[1]}
            assert {"backend", "frontend", "postgres"} <= services, services
            dump = await asyncio.wait_for(orch.backup(pid), STOP_BOUND)
            assert "PostgreSQL database dump" in dump.read_text()
            await asyncio.wait_for(orch.stop(pid), STOP_BOUND)
            assert orch.state(pid) == ProjectStatus.STOPPED, orch.message(pid)
            began = time.monotonic()
            stopped_dump = await asyncio.wait_for(orch.backup(pid), STOP_BOUND)
            print(f"the window's backup of the stopped project (a job process): {time.monotonic() - began:.1f} s")
            assert stopped_dump != dump and "PostgreSQL database dump" in stopped_dump.read_text()
            assert "database saved to" in orch.log(pid).text("hub")   # the job's lines, followed in the pane
            key = store.get(pid).data_key
            volumes[f"cchub-{key}-pgdata"] = ("LOCKED", "postgres")
            volumes[f"cchub-{key}-redis"] = ("LOCKED", "")
            volumes[f"cchub-{key}-rag-storage"] = ("SHARED", "")
            before = await asyncio.to_thread(_volume_entries, volumes)
            assert before[f"cchub-{key}-pgdata"] > 0, before   # the database is there before the removal
            began = time.monotonic()
            await asyncio.wait_for(orch.remove(pid, delete_data=True), STOP_BOUND)
            print(f"the window's remove with data (a job process): {time.monotonic() - began:.1f} s")
            assert [p.name for p in store.list()] == []
        finally:
            await orch.aclose(runner_wait=STOP_BOUND)
            store.close()

    asyncio.run(scenario())
    _poll(lambda: is_port_free(real_project["frontend"]) and is_port_free(real_project["backend"]),
          "the stack's ports were not freed after the runner stopped")
    assert _volume_entries(volumes) == dict.fromkeys(volumes, 0)   # the removal emptied the data volumes
