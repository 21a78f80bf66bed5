"""CommandCenterStack against the fake engine, through the real dagger-io SDK: what the engine was asked
to build and run, what reached the host, and that nothing stays behind after stop()."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from commandcenter_tree import write_commandcenter_tree
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack, StackLog, StackPhase, build_plan
from cchub_desktop.stack.recipe import secret_values
from cchub_desktop.store import ProjectStore


def make_config(project_dir: Path, block: FreePortBlock, name: str = "Demo", expose_db: bool = False,
                settings: AppSettings | None = None) -> CommandCenterConfig:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    project = store.add(name, project_dir, expose_db=expose_db, **{f"{k}_port": v for k, v in block.as_dict().items()})
    store.close()
    return CommandCenterConfig.from_project(project, settings or AppSettings(), paths)


async def run_and_stop(stack: CommandCenterStack) -> None:
    await stack.start()
    await stack.stop()


def services_by_name(fake: FakeDagger, config: CommandCenterConfig) -> dict[str, dict[str, Any]]:
    """The engine's record of each started service, by the plan's service name (matched by command: the
    backend, the worker and beat share an image)."""
    names = {}
    for svc in build_plan(config).services:
        command = ["docker-entrypoint.sh", *svc.command] if svc.use_entrypoint else svc.command
        names[json.dumps(command)] = svc.name
    return {names[json.dumps(r["command"])]: r for r in fake.journal.services("start")}


def test_start_runs_the_four_services_as_the_plan_says_then_stop_leaves_nothing(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    log = StackLog()
    phases: list[StackPhase] = []
    stack = CommandCenterStack(config, AppSettings(), log, on_phase=phases.append)
    asyncio.run(run_and_stop(stack))

    # build progress arrives as "backend_build|<step>" between the phases
    assert [p for p in phases if "|" not in p] == list(StackPhase)
    started = services_by_name(fake_dagger_env, config)
    plan = build_plan(config)
    assert set(started) == {s.name for s in plan.services}
    for svc in plan.services:
        record = started[svc.name]
        command = ["docker-entrypoint.sh", *svc.command] if svc.use_entrypoint else svc.command
        assert record["command"] == command, svc.name
        assert record["exposed_ports"] == svc.exposed_ports, svc.name
        assert record["secret_env"] == svc.secrets, svc.name            # by secret name, never by value
        assert {k: v for k, v in record["env"].items() if k in svc.env} == svc.env, svc.name
        assert set(record["bindings"]) == set(svc.bindings), svc.name
    # build steps ran as steps, the servers are the services' commands
    # (the PostgreSQL client commands and the rag_storage tar are the host copy's: stack/host_copy.py,
    # tests/test_host_copy.py)
    execs = fake_dagger_env.journal.execs()
    ran = [shlex.join(e["command"]) for e in execs if e["command"][0] not in ("psql", "pg_dump", "tar")]
    backend_steps = [step for step in ran if step != "npm ci"]
    assert backend_steps == build_plan(config).service("backend").build_steps and "npm ci" in ran

    backend = started["backend"]
    workspace = next(m for m in backend["mounts"] if m["path"] == "/workspace")
    assert workspace["kind"] == "directory" and workspace["read_only"] is True
    (upload,) = [u for u in fake_dagger_env.journal.uploads() if u["path"] == str(project_dir)]
    assert any(".git" in p for p in upload["exclude"]) and any("node_modules" in p for p in upload["exclude"])
    pgdata = next(m for m in started["postgres"]["mounts"] if m["kind"] == "cache")
    assert (pgdata["path"], pgdata["source"], pgdata["sharing"]) == (
        "/var/lib/postgresql/data", f"cchub-{config.data_key}-pgdata", "LOCKED")

    listened = [(p["frontend"], p["backend"]) for t in fake_dagger_env.journal.tunnels("listen") for p in t["ports"]]
    assert sorted(listened) == sorted([(config.frontend_port, 3000), (config.backend_port, 8000)])
    assert all(t["host"] == "0.0.0.0" for t in fake_dagger_env.journal.tunnels("listen"))

    # after stop(): every port free, the session process gone after a clean end
    fake_dagger_env.sessions_exited()
    (session,) = fake_dagger_env.journal.sessions()
    assert session.ended_cleanly and session.env["DAGGER_PROGRESS"] == "plain"
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())
    assert fake_dagger_env.journal.running_services() == [] and fake_dagger_env.journal.open_tunnels() == []
    assert "DAGGER_PROGRESS" not in os.environ   # only in the CLI's environment while it started


def test_no_secret_value_reaches_the_engine_in_clear_or_the_log(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    fake_dagger_env.set(log_interval=0.05)
    config = make_config(project_dir, port_block)
    log_file = tmp_path / "stack.log"
    log = StackLog(log_file)
    # a build step that prints the database URL, as a careless script would
    fake_dagger_env.set(exec_hook=str(write_hook(tmp_path, secret_values(config)["database_url"])))
    asyncio.run(run_and_stop(CommandCenterStack(config, AppSettings(), log)))
    log.close()
    journal_text = fake_dagger_env.journal.all_text()
    everything = journal_text + log.text() + log_file.read_text()
    assert "DATABASE_URL=***" in log.text()   # the whole URL is a secret value too
    for value in secret_values(config).values():
        assert value not in everything
    names = {r["args"]["name"] for r in fake_dagger_env.journal.calls("setSecret")}
    assert names == {f"cchub-{config.data_key}-{n}" for n in
                     ("db-password", "redis-password", "secret-key", "encryption-salt", "database-url",
                      "redis-url")}
    assert not fake_dagger_env.journal.calls("withEnvVariable") or all(
        r["args"]["name"] not in {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
        for r in fake_dagger_env.journal.calls("withEnvVariable"))


def write_hook(folder: Path, leaked: str) -> Path:
    hook = folder / "hook.py"
    hook.write_text(
        "from fake_dagger.execs import ExecResult\n"
        "def fake_exec(ctx):\n"
        "    if ctx.command[:2] == ['pip', 'install']:\n"
        f"        return ExecResult(0, 'DATABASE_URL={leaked}\\n', '')\n"
        "    return None\n")
    return hook


def test_exposed_databases_get_tunnels_on_their_ports(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block, expose_db=True)
    asyncio.run(run_and_stop(CommandCenterStack(config, AppSettings(), StackLog())))
    listened = sorted((p["frontend"], p["backend"])
                      for t in fake_dagger_env.journal.tunnels("listen") for p in t["ports"])
    assert listened == sorted([(config.frontend_port, 3000), (config.backend_port, 8000),
                               (config.postgres_port, 5432), (config.redis_port, 6379)])
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for p in port_block.as_dict().values())


def test_the_running_stack_answers_on_its_host_ports_and_logs_per_service(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    from cchub_desktop.stack.health import http_status

    config = make_config(project_dir, port_block)
    log = StackLog()

    async def scenario() -> tuple[int | None, int | None]:
        stack = CommandCenterStack(config, AppSettings(), log)
        await stack.start()
        try:
            return (await http_status("127.0.0.1", config.frontend_port, "/"),
                    await http_status("127.0.0.1", config.backend_port, "/health"))
        finally:
            await stack.stop()

    assert asyncio.run(scenario()) == (200, 200)
    assert "Uvicorn running" in log.text("backend")
    assert "database system is ready" in log.text("postgres")
    assert "Ready to accept connections" in log.text("redis")
    assert "VITE" in log.text("frontend")
    assert "pip install" not in log.text("frontend")


def test_round_trips_per_start_stay_low(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)

    async def start_only() -> int:
        stack = CommandCenterStack(config, AppSettings(), StackLog())
        await stack.start()
        count = len(fake_dagger_env.journal.requests())
        await stack.stop()
        return count

    # measured: 34 on a first start of the four-service stack (one of them resolves the source's ref to the
    # commit it pins); 62 since the stack runs NATS, the Celery worker and beat as compose does: each new
    # service adds its start and the ID arguments of its bindings, secrets and caches (one query each); + 6 for
    # the host copy's check of the database (its client container, reading the marker, and writing it on this
    # first start)
    assert asyncio.run(start_only()) <= 68


def test_two_projects_start_concurrently_each_on_its_own_ports_and_session(
        fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path) -> None:
    from fake_dagger.fixtures import free_port_block

    blocks = [free_port_block(), free_port_block()]
    other_dir = tmp_path / "other-project"
    other_dir.mkdir()
    configs = [make_config(project_dir, blocks[0], name="One"), make_config(other_dir, blocks[1], name="Two")]

    async def both() -> None:
        stacks = [CommandCenterStack(c, AppSettings(), StackLog()) for c in configs]
        await asyncio.gather(*(s.start() for s in stacks))
        assert all(not ports.is_port_free(c.frontend_port) for c in configs)
        await asyncio.gather(*(s.stop() for s in stacks))

    asyncio.run(both())
    sessions = fake_dagger_env.journal.sessions()
    assert len(sessions) == 2
    by_session = {s.pid: sorted(p["frontend"] for t in fake_dagger_env.journal.tunnels("listen", pid=s.pid)
                                for p in t["ports"]) for s in sessions}
    assert sorted(by_session.values()) == sorted(sorted([c.frontend_port, c.backend_port]) for c in configs)
    volumes = {r["args"]["key"] for r in fake_dagger_env.journal.calls("cacheVolume")}
    assert {f"cchub-{c.data_key}-pgdata" for c in configs} <= volumes
    fake_dagger_env.sessions_exited()
    assert all(ports.is_port_free(p) for b in blocks for p in b.as_dict().values())


@pytest.fixture()
def runner_addresses() -> Iterator[list[str]]:
    """Two tcp:// engine addresses that answer (a start checks the runner first); the test engine serves them."""
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    try:
        yield [f"tcp://127.0.0.1:{sock.getsockname()[1]}" for sock in listeners]
    finally:
        for sock in listeners:
            sock.close()


def test_engine_settings_reach_the_cli_without_leaking_into_the_process(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        monkeypatch: pytest.MonkeyPatch, runner_addresses: list[str]) -> None:
    cli = str(fake_dagger_env.cli_path)
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_CLI_BIN")
    settings = AppSettings(dagger_cli_path=cli, runner_host=runner_addresses[0])
    config = make_config(project_dir, port_block, settings=settings)
    asyncio.run(run_and_stop(CommandCenterStack(config, settings, StackLog())))
    (session,) = fake_dagger_env.journal.sessions()
    assert session.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"] == runner_addresses[0]
    assert "_EXPERIMENTAL_DAGGER_CLI_BIN" not in os.environ
    assert "_EXPERIMENTAL_DAGGER_RUNNER_HOST" not in os.environ


def test_concurrent_stacks_with_different_engine_settings_each_get_their_own(
        fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path, runner_addresses: list[str]) -> None:
    from fake_dagger.fixtures import free_port_block

    fake_dagger_env.set(session_delay=0.5)   # both provision at the same time for a while
    other_dir = tmp_path / "other-project"
    other_dir.mkdir()
    settings = [AppSettings(runner_host=address) for address in runner_addresses]
    configs = [make_config(project_dir, free_port_block(), name="One", settings=settings[0]),
               make_config(other_dir, free_port_block(), name="Two", settings=settings[1])]

    async def both() -> None:
        stacks = [CommandCenterStack(c, s, StackLog()) for c, s in zip(configs, settings, strict=True)]
        await asyncio.gather(*(s.start() for s in stacks))
        await asyncio.gather(*(s.stop() for s in stacks))

    asyncio.run(both())
    hosts = sorted(str(s.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"]) for s in fake_dagger_env.journal.sessions())
    assert hosts == sorted(runner_addresses)
    assert "_EXPERIMENTAL_DAGGER_RUNNER_HOST" not in os.environ


def test_a_local_commandcenter_checkout_is_used_instead_of_git(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    checkout = write_commandcenter_tree(tmp_path / "CommandCenter")
    for sub in ("frontend/node_modules/left-pad", ".git"):
        (checkout / sub).mkdir(parents=True)
    settings = AppSettings(source_local_dir=str(checkout))
    config = make_config(project_dir, port_block, settings=settings)
    asyncio.run(run_and_stop(CommandCenterStack(config, settings, StackLog())))
    assert fake_dagger_env.journal.calls("git") == []
    (upload,) = [u for u in fake_dagger_env.journal.uploads() if u["path"] == str(checkout)]
    assert any("node_modules" in p for p in upload["exclude"]) and any(".git" in p for p in upload["exclude"])
    assert [p.name for p in project_dir.iterdir()] == ["README.md"]   # nothing cloned into the project
    # upstream's shape: libs/ reaches the backend build next to backend/, and ../libs resolves from its workdir
    backend = services_by_name(fake_dagger_env, config)["backend"]
    assert backend["workdir"] == "/app/backend"
    assert sorted(c["path"] for c in backend["copies"]) == [
        "/app/backend", "/app/backend/requirements.txt", "/app/constraints.txt", "/app/fix_requirements.py",
        "/app/libs", "/app/wait_for_db.py"]
    pip = next(e for e in fake_dagger_env.journal.execs() if e["command"][:2] == ["pip", "install"])
    assert pip["workdir"] == "/app/backend" and pip["exit_code"] == 0
    postgres = next(r for r in fake_dagger_env.journal.services("start") if r["hostname"] != backend["hostname"]
                    and "pgvector" in r["image"])
    assert postgres["image"] == "pgvector/pgvector:pg16"


def test_a_local_checkout_without_a_backend_is_refused_before_any_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    from cchub_desktop.stack import StackError

    settings = AppSettings(source_local_dir=str(tmp_path))
    config = make_config(project_dir, port_block, settings=settings)
    with pytest.raises(StackError) as info:
        asyncio.run(CommandCenterStack(config, settings, StackLog()).start())
    assert "has no backend folder" in info.value.user_message
    assert fake_dagger_env.journal.sessions() == []
