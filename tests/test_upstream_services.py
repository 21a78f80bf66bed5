"""The services compose runs (NATS, the Celery worker and beat) and the fixes upstream's own files need, as
the stack runs them on the test engine."""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
from pathlib import Path
from typing import Any

from commandcenter_tree import write_commandcenter_tree
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack, StackLog, build_plan, format_plan
from cchub_desktop.stack.source_pin import VERIFIED_COMMIT
from cchub_desktop.stack.upstream_fixes import rag_storage_volume
from tests.test_stack import make_config, run_and_stop, services_by_name
from tests.test_stack_failures import start_expecting_error


def _caches(record: dict[str, Any]) -> dict[str, str]:
    return {m["path"]: m["source"] for m in record["mounts"] if m["kind"] == "cache"}


def test_nats_worker_and_beat_run_with_compose_commands_and_the_backend_reaches_nats(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    log = StackLog()
    asyncio.run(run_and_stop(CommandCenterStack(config, AppSettings(), log)))
    started = services_by_name(fake_dagger_env, config)
    nats, worker, beat, backend = started["nats"], started["worker"], started["beat"], started["backend"]

    assert nats["image"] == "nats:2.10-alpine" and nats["command"] == ["nats-server", "-js", "-m", "8222"]
    assert worker["command"] == ["celery", "-A", "app.tasks", "worker", "--loglevel=info", "--concurrency=4"]
    assert beat["command"][:4] == ["celery", "-A", "app.tasks", "beat"]
    assert backend["env"]["NATS_URL"] == worker["env"]["NATS_URL"] == "nats://nats:4222"
    for record in (backend, worker, beat):
        assert set(record["bindings"]) == {"postgres", "redis", "nats"}
        # the backend's build, env and secrets: the broker is the project's Redis, by secret name
        assert record["image"] == config.images.python and record["workdir"] == "/app/backend"
        assert record["secret_env"]["CELERY_BROKER_URL"] == backend["secret_env"]["CELERY_BROKER_URL"]
    # the worker shares rag_storage with the backend; beat (RedBeat: its schedule lives in Redis) keeps nothing
    rag = rag_storage_volume(config.data_key)
    assert _caches(backend)["/app/rag_storage"] == _caches(worker)["/app/rag_storage"] == rag
    assert "--schedule=/tmp/celerybeat-schedule" in beat["command"]
    assert not [v for v in _caches(beat).values() if v.startswith(f"cchub-{config.data_key}-") and v != rag]
    # the model downloads go to a cache volume (HF_HOME), kept across restarts
    assert backend["env"]["HF_HOME"] == "/root/.cache/huggingface"
    assert _caches(backend)["/root/.cache/huggingface"] == "cchub-huggingface-cache"
    # one install for the three: the backend's build steps ran once
    pips = [e for e in fake_dagger_env.journal.execs() if e["command"][:2] == ["pip", "install"]]
    assert len(pips) == 1
    # each has its own log stream
    assert "service started" in log.text("worker") and "service started" in log.text("beat")
    assert "service started" in log.text("nats")
    # nothing left running
    assert fake_dagger_env.journal.running_services() == []


def started_once_on_a_checkout(tmp_path: Path, project_dir: Path, port_block: FreePortBlock
                               ) -> tuple[Path, AppSettings, CommandCenterConfig]:
    """A CommandCenter-shaped local checkout as Settings → Source, and one start and stop of a stack on it."""
    checkout = write_commandcenter_tree(tmp_path / "CommandCenter")
    settings = AppSettings(source_local_dir=str(checkout))
    config = make_config(project_dir, port_block, settings=settings)
    asyncio.run(run_and_stop(CommandCenterStack(config, settings, StackLog())))
    return checkout, settings, config


def test_the_install_sees_only_requirements_libs_and_the_constraints_so_a_source_change_keeps_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    checkout, settings, config = started_once_on_a_checkout(tmp_path, project_dir, port_block)
    (checkout / "backend/app/main.py").write_text("from fastapi import FastAPI\napp = FastAPI(title='new')\n")
    asyncio.run(run_and_stop(CommandCenterStack(config, settings, StackLog())))

    installs = [e for e in fake_dagger_env.journal.execs()
                if e["command"][:4] == ["pip", "install", "-r", "requirements.txt"]]
    assert len(installs) == 2
    first, second = ({c["path"] for c in e["copies"]} for e in installs)
    # its inputs: requirements.txt, libs/ (for `-e ../libs/...`), the app's constraints and wait script; the
    # rest of backend/ (where app/ lives) is copied after it, so changing app/ leaves the install layer as is
    assert first == second == {"/app/backend/requirements.txt", "/app/libs", "/app/constraints.txt",
                               "/app/fix_requirements.py", "/app/wait_for_db.py"}
    assert installs[0]["command"][-2:] == ["-c", "/app/constraints.txt"]
    backend = services_by_name(fake_dagger_env, config)["backend"]
    assert [c["path"] for c in backend["copies"]][-1] == "/app/backend"   # the rest of backend/, last


def test_the_plan_shows_the_constraint_the_database_wait_and_the_layer_order(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    plan = build_plan(config)
    backend = plan.service("backend")
    assert "/app/constraints.txt" in backend.files and "/app/wait_for_db.py" in backend.files
    assert backend.late_sources == ["backend/ -> /app/backend"]
    assert plan.service("worker").build_from == plan.service("beat").build_from == "backend"
    assert backend.env["NATS_URL"] == "nats://nats:4222"
    text = format_plan(plan)
    assert "file:     /app/constraints.txt (written by the app)" in text
    assert "(after the install: a source change keeps the install)" in text
    assert "build:    the backend's (same image, source and install)" in text
    # the worker and beat listen on no port, and have no tunnel
    assert plan.service("worker").exposed_ports == [] and plan.service("worker").tunnels == []
    script = backend.command[2]
    assert shlex.split(script)[:2] == ["python", "/app/wait_for_db.py"]


def test_cuda_torch_in_settings_drops_the_cpu_only_step(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block, settings=AppSettings(cuda_torch=True))
    assert config.cuda_torch
    cpu = build_plan(dataclasses.replace(config, cuda_torch=False)).service("backend").build_steps
    cuda = build_plan(config).service("backend").build_steps
    assert any("whl/cpu" in step for step in cpu)
    assert not any("whl/cpu" in step for step in cuda) and cuda[-1].startswith("pip install -r requirements.txt")


def test_a_start_failing_in_the_migrations_says_the_revision_and_the_first_error_in_one_line(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    # what upstream 4f5a0af5 and later print on an empty database (alembic's log, then the traceback's end)
    output = "\\n".join([
        "INFO  [alembic.runtime.migration] Running upgrade  -> 0001_initial, initial schema",
        "INFO  [alembic.runtime.migration] Running upgrade 0001_initial -> doc1nt3ll001, link types",
        "Traceback (most recent call last):",
        '  File "/app/backend/alembic/versions/doc1nt3ll001.py", line 20, in upgrade',
        'asyncpg.exceptions.UndefinedObjectError: type "linktype" does not exist',
        'sqlalchemy.exc.ProgrammingError: (sqlalchemy.dialects.postgresql.asyncpg.ProgrammingError) type '
        '"linktype" does not exist'])
    fake_dagger_env.set(exec_fail=f"alembic upgrade:1:{output}")
    config = make_config(project_dir, port_block)
    error = start_expecting_error(config)
    assert "\n" not in error.user_message
    assert error.user_message.startswith("The database migrations failed at revision doc1nt3ll001: ")
    assert 'type "linktype" does not exist' in error.user_message
    assert VERIFIED_COMMIT[:7] in error.user_message
    assert fake_dagger_env.journal.running_services() == []


UPSTREAM_LINES = [   # backend/requirements.txt at cc1da242, around its litellm line
    "anthropic>=0.69.0,<0.70.0  # Direct Anthropic/Claude access (latest: 0.69.0, Sep 2025)",
    "litellm>=1.30.0,<1.50.0  # Self-hosted proxy for 100+ LLMs (tested 1.30-1.45)",
    "",
    "toml>=0.10.2  # Parse TOML files (Cargo.toml, pyproject.toml)",
]


def test_the_litellm_range_no_index_serves_is_rewritten_before_the_install_and_nothing_else(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from cchub_desktop.stack import upstream_fixes

    _, _, config = started_once_on_a_checkout(tmp_path, project_dir, port_block)
    commands = [e["command"] for e in fake_dagger_env.journal.execs()]
    fix = commands.index(["python", "/app/fix_requirements.py"])
    install = next(i for i, c in enumerate(commands) if c[:4] == ["pip", "install", "-r", "requirements.txt"])
    assert fix < install                                           # the install reads the fixed file
    assert "build:    python /app/fix_requirements.py" in format_plan(build_plan(config))   # shown in the plan

    requirements = tmp_path / "requirements.txt"                   # what the step does to upstream's file
    requirements.write_text("\n".join(UPSTREAM_LINES) + "\n", encoding="utf-8")
    script = tmp_path / "fix_requirements.py"
    script.write_text(upstream_fixes.REWRITE_SCRIPT, encoding="utf-8")
    def fix_requirements() -> str:
        ran = subprocess.run([sys.executable, str(script), str(requirements)], capture_output=True, text=True,
                             check=False)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    said = fix_requirements()
    assert said == ("upstream fix: litellm>=1.30.0,<1.50.0 -> litellm>=1.53.1,<1.54 (that range is not on "
                          "the package index)\n")
    expected = list(UPSTREAM_LINES)
    expected[1] = "litellm>=1.53.1,<1.54  # Self-hosted proxy for 100+ LLMs (tested 1.30-1.45)"
    assert requirements.read_text(encoding="utf-8") == "\n".join(expected) + "\n"
    assert fix_requirements() == ""                               # another commit's line: left alone
