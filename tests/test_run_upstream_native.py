"""tools/run_upstream_native.py runs what the recipe runs: its commands and env come from the recipe, with only
container paths, hostnames and ports changed to the host's (no network, no processes but two tiny fakes)."""

from __future__ import annotations

import dataclasses
import shlex
import stat
from pathlib import Path

import pytest

import cchub_desktop.stack.upstream_fixes as fixes
from cchub_desktop.stack.recipe import BACKEND_START, BuildStep, StackRecipe, build_recipe, secret_values
from tools import run_upstream_native as native

PORTS = {"backend": 18000, "frontend": 13000, "postgres": 15432, "redis": 16379, "nats": 14222,
         "nats-monitor": 18222}


def _layout(tmp_path: Path) -> native.HostLayout:
    return native.HostLayout(checkout=tmp_path / "cc", run_dir=tmp_path / "run", venv=tmp_path / "venv",
                             hf_home=tmp_path / "hf", ports=PORTS)


def _all_text(plan: dict[str, native.NativeService]) -> list[str]:
    out: list[str] = []
    for svc in plan.values():
        cmds = [*svc.build, *svc.prepare, *([svc.run] if svc.run else [])]
        out += [a for c in cmds for a in c.argv] + [str(c.cwd) for c in cmds] + list(svc.env.values())
    return out


def test_the_native_commands_are_the_recipes_with_host_paths_and_ports(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    config = native.make_config(layout.checkout, PORTS, layout.run_dir / "workspace")
    recipe = build_recipe(config)
    plan = native.native_plan(config, layout)
    backend, worker, beat, frontend = plan["backend"], plan["worker"], plan["beat"], plan["frontend"]
    # every service of the recipe is run: these four from the plan, the databases by DataServices (a service
    # added to the recipe fails here until the script starts it)
    assert [s.name for s in recipe.services] == ["postgres", "redis", "nats", *plan]
    constraints = layout.files_dir / Path(fixes.CONSTRAINTS_FILE).name

    # the backend's build: the recipe's steps in its order, the constraints file the app writes
    assert [c.label for c in backend.build] == [s.label for s in recipe.service("backend").build_steps]
    fixed = layout.files_dir / "requirements-fixed.txt"   # the recipe's requirements fix, on a copy
    assert backend.build[-1].argv == ("pip", "install", "-r", str(fixed), "-c", str(constraints))
    fix = next(c for c in backend.build if c.label == "requirements fix")
    assert fix.argv == ("sh", "-c", f"cp requirements.txt {fixed} && python {layout.files_dir / 'fix_requirements.py'}"
                                    f" {fixed}")   # the checkout's own file is never changed
    assert backend.files[layout.files_dir / "fix_requirements.py"] == fixes.REWRITE_SCRIPT
    assert backend.files[constraints] == fixes.constraints_text()
    assert all(c.cwd == layout.checkout / "backend" for c in backend.build)
    assert backend.build[-1].env["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    # the service command: the recipe's, step by step (database wait, migrations, uvicorn), on the host's port
    steps = [c.argv[2] for c in (*backend.prepare, backend.run) if c is not None]
    assert [c.label for c in backend.prepare] == ["database wait", "migrations"]
    expected = (BACKEND_START.replace(fixes.DB_WAIT_FILE, str(layout.files_dir / "wait_for_db.py"))
                .replace("--host 0.0.0.0 --port 8000", "--host 127.0.0.1 --port 18000"))
    assert " && ".join(steps) == expected
    assert backend.files[layout.files_dir / "wait_for_db.py"] == fixes.DB_WAIT_SCRIPT
    # worker and beat: compose's commands, the backend's env and secrets
    assert worker.run is not None and beat.run is not None
    assert worker.run.argv == fixes.CELERY_WORKER
    assert beat.run.argv == (*fixes.CELERY_BEAT[:-1], f"--schedule={layout.run_dir / 'celerybeat-schedule'}")
    assert worker.run.cwd == beat.run.cwd == layout.checkout / "backend"
    assert worker.build == beat.build == ()   # they run the backend's install
    # the env: every variable and secret the recipe gives, pointed at this host's services
    spec = recipe.service("backend")
    assert set(backend.env) == {k for k, _ in spec.env} | {s.env for s in spec.secrets} | {"PATH", "VIRTUAL_ENV"}
    assert backend.env["NATS_URL"] == "nats://127.0.0.1:14222"
    assert backend.env["POSTGRES_HOST"] == "127.0.0.1" and backend.env["POSTGRES_PORT"] == "15432"
    assert backend.env["DATABASE_URL"] == secret_values(config)["database_url"].replace("postgres:5432",
                                                                                         "127.0.0.1:15432")
    assert backend.env["CELERY_BROKER_URL"].endswith("@127.0.0.1:16379/0")
    assert backend.env["HF_HOME"] == str(layout.hf_home)
    assert worker.env == backend.env
    # the frontend: npm ci, then vite on loopback and the host port, told the backend's host URL
    assert frontend.run is not None
    assert [c.argv for c in frontend.build] == [("npm", "ci")]
    assert frontend.run.argv == ("npx", "vite", "--host", "127.0.0.1", "--port", "13000", "--strictPort")
    assert frontend.env["VITE_API_BASE_URL"] == "http://localhost:18000"
    # nothing of the container is left: no /app path, no service hostname, no 0.0.0.0
    for text in _all_text(plan):
        assert "/app/" not in text and "0.0.0.0" not in text, text
        assert not any(f"{name}:" in text.replace("nats://", "").replace("redis://", "").replace(
            "postgresql+asyncpg://", "") for name in ("postgres", "redis", "nats")), text


def test_a_step_added_to_the_recipe_is_run_natively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The script reads the recipe: it cannot drift from it."""
    def with_extra_step(config: native.CommandCenterConfig) -> StackRecipe:
        recipe = build_recipe(config)
        backend = recipe.service("backend")
        extra = BuildStep("extra", ("pip", "install", "-c", fixes.CONSTRAINTS_FILE, "something"))
        changed = dataclasses.replace(backend, build_steps=(*backend.build_steps, extra),
                                      command=("sh", "-c", "python -V && " + backend.command[2]))
        return dataclasses.replace(recipe, services=tuple(changed if s.name == "backend" else s
                                                          for s in recipe.services))

    monkeypatch.setattr(native, "build_recipe", with_extra_step)
    layout = _layout(tmp_path)
    config = native.make_config(layout.checkout, PORTS, layout.run_dir / "workspace")
    backend = native.native_plan(config, layout)["backend"]
    assert backend.build[-1].argv == ("pip", "install", "-c", str(layout.files_dir / "constraints.txt"), "something")
    assert backend.prepare[0].argv == ("sh", "-c", "python -V")


def test_the_databases_get_the_recipes_user_password_and_nats_arguments(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    config = native.make_config(layout.checkout, PORTS, layout.run_dir / "workspace")
    recipe = build_recipe(config)
    data = native.DataServices.from_recipe(config, layout)
    pg_env = dict(recipe.service("postgres").env)
    assert (data.db_user, data.db_name) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_DB"])
    assert data.db_password == config.secrets.db_password and data.redis_password == config.secrets.redis_password
    # compose's NATS arguments (JetStream, monitoring), the monitoring port moved to a free one
    assert data.nats_args[:3] == ("-js", "-m", "18222") and fixes.NATS_ARGS[:2] == ("-js", "-m")
    assert shlex.join(data.nats_args[3:]).startswith("-a 127.0.0.1 -p 14222")


def test_the_requirements_override_changes_only_the_install_and_says_so(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    config = native.make_config(layout.checkout, PORTS, layout.run_dir / "workspace")
    backend = native.with_requirements(native.native_plan(config, layout)["backend"], "requirements-local.txt")
    assert backend.build[-1].argv[:4] == ("pip", "install", "-r", "requirements-local.txt")


def _fake_postgres_bin(tmp_path: Path, with_vector: bool) -> Path:
    bin_dir, share = tmp_path / "pg" / "bin", tmp_path / "pg" / "share"
    (share / "extension").mkdir(parents=True)
    bin_dir.mkdir(parents=True)
    if with_vector:
        (share / "extension" / "vector.control").write_text("")
    scripts = {"initdb": "exit 0", "postgres": "echo 'postgres (PostgreSQL) 15.20'",
               "pg_config": f"echo '{share}'"}
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_missing_pgvector_is_one_line_naming_the_package(tmp_path: Path) -> None:
    with pytest.raises(native.RunStop) as info:
        native.find_tools(str(_fake_postgres_bin(tmp_path, with_vector=False)), want_chromium=False)
    assert str(info.value).startswith("pgvector not installed for PostgreSQL 15")
    assert "apt-get install postgresql-15-pgvector" in str(info.value) and "\n" not in str(info.value)


def test_main_says_what_is_missing_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert native.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a CommandCenter checkout" in err and "Traceback" not in err


def _run(tmp_path: Path) -> native.Run:
    import io

    layout = _layout(tmp_path)
    layout.logs_dir.mkdir(parents=True)
    return native.Run(layout, io.StringIO())


def test_stop_all_ends_every_process_it_started(tmp_path: Path) -> None:
    import sys

    run = _run(tmp_path)
    waits = ("import pathlib, signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
             "pathlib.Path(sys.argv[1]).touch()\nwhile True: time.sleep(0.1)\n")
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [run.start(f"svc{i}", [sys.executable, "-c", waits, str(ready[i])], tmp_path, {}) for i in range(2)]
    run.wait_until("both", lambda: all(r.exists() for r in ready), 60)
    run.stop_all()
    assert [p.returncode for p in procs] == [0, 0] and run.procs == []


def test_a_program_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    run = _run(tmp_path)
    with pytest.raises(native.RunStop) as info:
        run.run("nats", ["no-such-program-here"], tmp_path, {})
    assert str(info.value).startswith("nats could not start: ") and "no-such-program-here" in str(info.value)
