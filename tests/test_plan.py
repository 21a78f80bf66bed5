"""The plan of a project's stack: what `cchub plan` shows is the container graph the stack builds."""

from __future__ import annotations

import json
import posixpath
import random
from pathlib import Path

import pytest

from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, build_plan, format_plan
from cchub_desktop.store import ProjectStore
from tests.helpers import free_block_number, key_of


def make_project(project_dir: Path, name: str = "Demo", expose_db: bool = False) -> tuple[ProjectStore, int]:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    from cchub_desktop import ports

    block = ports.block(free_block_number(start=random.randint(300, 5000)))
    project = store.add(name, project_dir, backend_port=block.backend, frontend_port=block.frontend,
                        postgres_port=block.postgres, redis_port=block.redis, expose_db=expose_db)
    assert project.id is not None
    return store, project.id


def config_for(project_dir: Path, expose_db: bool = False, settings: AppSettings | None = None
               ) -> CommandCenterConfig:
    store, pid = make_project(project_dir, expose_db=expose_db)
    return CommandCenterConfig.from_project(store.get(pid), settings or AppSettings(), app_paths())


def test_plan_has_the_services_compose_runs_with_their_images_and_commands(project_dir: Path) -> None:
    plan = build_plan(config_for(project_dir))
    assert [s.name for s in plan.services] == ["postgres", "redis", "nats", "backend", "worker", "beat", "frontend"]
    images = {s.name: s.image for s in plan.services}
    # node 20 and nats:2.10-alpine as upstream's frontend/Dockerfile and docker-compose.yml
    assert images == {"postgres": "pgvector/pgvector:pg16", "redis": "redis:7-alpine", "nats": "nats:2.10-alpine",
                      "backend": "python:3.11-slim", "worker": "python:3.11-slim", "beat": "python:3.11-slim",
                      "frontend": "node:20-alpine"}
    postgres, redis = plan.service("postgres"), plan.service("redis")
    backend = plan.service("backend")
    assert postgres.use_entrypoint and postgres.command == ["postgres"]
    assert redis.command[:2] == ["sh", "-c"] and "redis-server" in redis.command[2]
    # upstream's backend/Dockerfile installs gcc, g++ and libpq-dev before pip
    assert "apt-get install" in backend.build_steps[0]
    assert all(pkg in backend.build_steps[0].split() for pkg in ("gcc", "g++", "libpq-dev"))
    # the requirements' upstream fix, CPU-only torch (it falls back to the normal wheel), then the requirements
    # with the app's constraints
    assert backend.build_steps[1] == "python /app/fix_requirements.py"
    assert "download.pytorch.org/whl/cpu" in backend.build_steps[2] and "||" in backend.build_steps[2]
    assert backend.build_steps[3:] == ["pip install -r requirements.txt -c /app/constraints.txt"]
    assert backend.command[:2] == ["sh", "-c"]
    # the database wait, then migrations, then the server, in the service command
    script = backend.command[2]
    assert script.index("python /app/wait_for_db.py") < script.index("alembic upgrade head") < \
        script.index("uvicorn app.main:app")
    frontend = plan.service("frontend")
    assert frontend.build_steps == ["npm ci"]
    assert "vite" in frontend.command and "3000" in frontend.command


def test_plan_never_contains_a_secret_value(project_dir: Path) -> None:
    config = config_for(project_dir)
    text = json.dumps(build_plan(config).to_dict()) + format_plan(build_plan(config))
    for value in config.secrets.values():
        assert value not in text
    backend = build_plan(config).service("backend")
    assert set(backend.secrets) == {"DATABASE_URL", "POSTGRES_PASSWORD", "REDIS_URL", "CELERY_BROKER_URL",
                                    "CELERY_RESULT_BACKEND", "SECRET_KEY", "ENCRYPTION_SALT"}
    assert "DATABASE_URL" not in backend.env and "SECRET_KEY" not in backend.env
    key = config.data_key
    assert build_plan(config).service("postgres").secrets == {"POSTGRES_PASSWORD": f"cchub-{key}-db-password"}
    assert set(build_plan(config).service("redis").secrets) == {"REDIS_PASSWORD"}


def test_workspace_is_the_project_folder_read_only_without_vcs_and_dependencies(project_dir: Path) -> None:
    backend = build_plan(config_for(project_dir)).service("backend")
    (mount,) = backend.mounts
    assert mount.path == "/workspace" and mount.read_only
    assert str(project_dir) in mount.source
    for folder in (".git", "node_modules", ".venv"):
        assert any(folder in pattern for pattern in mount.exclude)


def test_data_lives_in_per_project_cache_volumes(project_dir: Path) -> None:
    config = config_for(project_dir)
    plan = build_plan(config)
    pg_cache = plan.service("postgres").caches[0]
    assert (pg_cache.path, pg_cache.volume, pg_cache.sharing) == (
        "/var/lib/postgresql/data", f"cchub-{config.data_key}-pgdata", "LOCKED")
    assert plan.service("redis").caches[0].volume == f"cchub-{config.data_key}-redis"


def test_services_reach_each_other_by_binding_aliases(project_dir: Path) -> None:
    plan = build_plan(config_for(project_dir))
    assert plan.service("backend").bindings == ["postgres", "redis", "nats"]
    assert plan.service("worker").bindings == plan.service("beat").bindings == ["postgres", "redis", "nats"]
    assert plan.service("frontend").bindings == ["backend"]


@pytest.mark.parametrize("expose_db", [False, True])
def test_tunnels_are_the_projects_ports_and_databases_only_when_exposed(project_dir: Path, expose_db: bool) -> None:
    config = config_for(project_dir, expose_db=expose_db)
    plan = build_plan(config)
    tunnels = {s.name: [(t.host_port, t.container_port) for t in s.tunnels] for s in plan.services}
    assert tunnels["frontend"] == [(config.frontend_port, 3000)]
    assert tunnels["backend"] == [(config.backend_port, 8000)]
    if expose_db:
        assert tunnels["postgres"] == [(config.postgres_port, 5432)]
        assert tunnels["redis"] == [(config.redis_port, 6379)]
    else:
        assert tunnels["postgres"] == [] and tunnels["redis"] == []
    # the browser reaches the backend through its host tunnel, not a container hostname
    assert plan.service("frontend").env["VITE_API_BASE_URL"] == f"http://localhost:{config.backend_port}"


def test_plan_follows_the_settings(project_dir: Path) -> None:
    settings = AppSettings(node_image="node:20-alpine", source_git_ref="v2.0")
    plan = build_plan(config_for(project_dir, settings=settings))
    assert plan.service("frontend").image == "node:20-alpine"
    assert "@ v2.0" in plan.source


def test_cchub_plan_prints_a_readable_plan_and_json(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(project_dir, name="Demo")
    assert cchub(["plan", "demo"]) == 0
    text = capsys.readouterr().out
    assert "postgres:" in text and "frontend:" in text
    assert "/workspace (ro)" in text
    key = key_of("demo")
    assert f"POSTGRES_PASSWORD <- secret cchub-{key}-db-password" in text
    assert f"project: Demo (data key {key})" in text

    assert cchub(["plan", "Demo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["services"]] == ["postgres", "redis", "nats", "backend", "worker", "beat",
                                                     "frontend"]


def test_cchub_plan_reads_no_secrets_file(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(project_dir, name="Demo")
    assert cchub(["plan", "demo"]) == 0
    assert not list(app_paths().secrets_dir.glob("*.json"))


def test_cchub_plan_for_an_unknown_project_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert cchub(["plan", "nope"]) == 1
    assert "no project named 'nope'" in capsys.readouterr().err


def test_plan_copies_backend_and_libs_side_by_side_so_the_editable_path_resolves(project_dir: Path) -> None:
    """Upstream's backend/requirements.txt has `-e ../libs/knowledgebeast`: libs/ must sit next to backend/ in
    the container, seen from the backend's workdir."""
    config = config_for(project_dir)
    plan = build_plan(config)
    backend = plan.service("backend")
    copies = dict(c.split(" -> ") for c in backend.sources + backend.late_sources)
    assert copies == {"backend/requirements.txt": "/app/backend/requirements.txt", "libs/": "/app/libs",
                      "backend/": "/app/backend"}
    assert backend.workdir == "/app/backend"
    assert posixpath.normpath(posixpath.join(backend.workdir, "../libs/knowledgebeast")) == \
        "/app/libs/knowledgebeast"
    assert {"ENVIRONMENT", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_DB", "CORS_ORIGINS"} <= set(backend.env)
    assert {"DATABASE_URL", "POSTGRES_PASSWORD", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
            "SECRET_KEY", "ENCRYPTION_SALT"} <= set(backend.secrets)
    frontend = plan.service("frontend")
    backend_url = f"http://localhost:{config.backend_port}"
    assert frontend.env["VITE_API_BASE_URL"] == frontend.env["VITE_API_URL"] == backend_url
    assert frontend.env["VITE_PROJECT_NAME"]
    text = format_plan(plan)
    assert "source libs/ -> /app/libs" in text and f"ENCRYPTION_SALT <- secret cchub-{config.data_key}-" in text
