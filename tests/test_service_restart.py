"""Restarting one service of a running stack: in the stack's own session, with the services the engine stops
with it (those bound to it) and their host tunnels; the others, the session and the volumes are left alone.

The test engine does what Dagger v0.21.8 did when a bound service was stopped: the services bound to it ended
and a host tunnel to them stopped listening until it was stopped and started again."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack, StackError, StackLog, build_plan
from cchub_desktop.stack.restart_lines import STACK_SERVICES
from cchub_desktop.store import ProjectStatus
from tests.cli_process import cchub_module
from tests.test_runners import Window, add_project, run
from tests.test_stack import make_config

SEVEN = ("postgres", "redis", "nats", "backend", "worker", "beat", "frontend")


def by_service(fake: FakeDagger, config: CommandCenterConfig, event: str) -> list[str]:
    """The plan's names of the services with a journal record `event`, in order."""
    names = {}
    for svc in build_plan(config).services:
        command = ["docker-entrypoint.sh", *svc.command] if svc.use_entrypoint else svc.command
        names[json.dumps(command)] = svc.name
    ids = {r["service_id"]: names[json.dumps(r["command"])] for r in fake.journal.services("start")}
    return [ids[r["service_id"]] for r in fake.journal.services(event)]


def answers(port: int, path: str = "/") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def restart_in_running_stack(config: CommandCenterConfig, service: str) -> tuple[str, dict[str, Any]]:
    """Start the stack, restart `service`, note what answers, stop; (the restart's line, what was seen)."""
    seen: dict[str, Any] = {}

    async def scenario() -> str:
        stack = CommandCenterStack(config, AppSettings(), StackLog())
        await stack.start()
        try:
            done = await stack.restart_service(service)
            seen["backend"] = await asyncio.to_thread(answers, config.backend_port, "/health")
            seen["frontend"] = await asyncio.to_thread(answers, config.frontend_port)
            seen["running"] = stack.running
            return done
        finally:
            await stack.stop()

    return asyncio.run(scenario()), seen


def test_a_service_nothing_binds_restarts_alone_in_the_same_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    done, seen = restart_in_running_stack(config, "worker")
    assert done.startswith("restarted worker in ")
    journal = fake_dagger_env.journal
    assert len(journal.sessions()) == 1                                     # no new session
    started = by_service(fake_dagger_env, config, "start")
    assert sorted(started) == sorted([*SEVEN, "worker"])                    # the worker twice, nothing else
    assert by_service(fake_dagger_env, config, "ended") == []               # nothing bound to it
    tunnel_closes = [r for r in journal.tunnels("close")]
    assert len(tunnel_closes) == 2                                           # only at the final stop
    assert seen == {"backend": True, "frontend": True, "running": True}


def test_a_service_others_bind_restarts_with_them_and_their_tunnels_answer_again(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    done, seen = restart_in_running_stack(config, "redis")
    # the backend, the worker and beat bind redis, the frontend binds the backend
    assert done.startswith("restarted redis with backend, worker, beat, frontend in ")
    started = by_service(fake_dagger_env, config, "start")
    assert sorted(started) == sorted([*SEVEN, "redis", "backend", "worker", "beat", "frontend"])
    assert started.count("postgres") == started.count("nats") == 1          # the others ran on
    assert len(fake_dagger_env.journal.sessions()) == 1
    assert seen == {"backend": True, "frontend": True, "running": True}      # the host ports answer again
    assert len(fake_dagger_env.journal.tunnels("listen")) == 4               # each tunnel opened twice


def test_the_services_the_menus_offer_are_the_stacks(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    assert tuple(s.name for s in build_plan(config).services) == STACK_SERVICES == SEVEN


def test_restarting_a_service_the_stack_does_not_have_or_of_a_stack_not_running_says_so(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    stack = CommandCenterStack(config, AppSettings(), StackLog())
    with pytest.raises(StackError, match="is not running, so its worker cannot be restarted"):
        asyncio.run(stack.restart_service("worker"))

    async def unknown() -> None:
        running = CommandCenterStack(config, AppSettings(), StackLog())
        await running.start()
        try:
            await running.restart_service("flower")
        finally:
            await running.stop()

    with pytest.raises(StackError, match="has no service named 'flower'; its services are: postgres, redis"):
        asyncio.run(unknown())


def test_the_window_and_cchub_restart_one_service_in_the_runners_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    pid = add_project(project_dir, port_block)
    journal = fake_dagger_env.journal

    async def scenario() -> None:
        window = Window()
        await window.orch.start(pid)
        assert window.orch.state(pid) == ProjectStatus.RUNNING, window.orch.message(pid)
        sessions = len(journal.sessions())
        done = await window.orch.restart_service(pid, "worker")          # asked of the runner, done there
        assert done.startswith("restarted worker in ")
        result = await asyncio.to_thread(cchub_module, "restart", "demo", "--service", "frontend")
        assert result.returncode == 0, result.stderr
        assert "Restarting the frontend of 'Demo' in the CommandCenter Hub's runner" in result.stdout
        assert "'Demo': restarted frontend in " in result.stdout
        assert len(journal.sessions()) == sessions                       # in the runner's own session
        assert window.orch.state(pid) == ProjectStatus.RUNNING
        assert await asyncio.to_thread(answers, port_block.as_dict()["frontend"])
        wrong = await asyncio.to_thread(cchub_module, "restart", "demo", "--service", "flower")
        assert wrong.returncode != 0 and "flower" in wrong.stderr and "Traceback" not in wrong.stderr
        # each reply was taken by the client that asked: no request or reply left beside the lease
        runtime = app_paths().runtime_dir
        assert sorted(runtime.glob("runner-*.re*")) == [], sorted(p.name for p in runtime.glob("runner-*"))
        await window.close()

    run(scenario())
    stops = [r for r in journal.services("stop")]
    assert len(stops) == 2 + 7   # the worker and the frontend once each, then the seven at the final stop
    fake_dagger_env.sessions_exited()
