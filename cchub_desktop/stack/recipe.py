"""The CommandCenter stack as data: ONE description that both the plan printer and the Dagger builder read,
so what `cchub plan` shows is what runs.

Seven services, started in this order: postgres, redis and NATS; the backend, the Celery worker and Celery
beat (the worker and beat run the backend's build); the frontend. Containers reach each other by
service-binding aliases (the alias is the hostname); the host reaches frontend and backend (and, only when
the project exposes them, the databases) through Dagger host tunnels, which listen on 0.0.0.0.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cchub_desktop.stack.upstream_fixes as fixes
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.phases import StackPhase

DB_USER = "commandcenter"
DB_NAME = "commandcenter"
POSTGRES_PORT = 5432
REDIS_PORT = 6379
BACKEND_PORT = 8000
FRONTEND_PORT = 3000
PGDATA = "/var/lib/postgresql/data"
WORKSPACE = "/workspace"
# Not uploaded with the project folder: version control, dependencies and virtualenvs are big and useless here.
WORKSPACE_EXCLUDE = ("**/.git", "**/node_modules", "**/.venv", "**/venv", "**/.tox", "**/__pycache__")
SOURCE_EXCLUDE = ("**/.git", "**/node_modules", "**/.venv", "**/venv", "**/__pycache__")

# Redis reads its password from a config file written at run time from the secret variable: the password
# is neither in the Dagger query (args) nor on redis-server's command line.
REDIS_START = (
    'umask 077 && printf "requirepass %s\\n" "$REDIS_PASSWORD" > /tmp/redis.conf'
    " && chown redis:redis /tmp/redis.conf"
    " && exec docker-entrypoint.sh redis-server /tmp/redis.conf --appendonly yes --dir /data"
)
# Migrations run in the service command, every start: they need the live database (only reachable through
# the binding while the stack runs), and as a build step Dagger would cache them and skip them the next
# time, even when the database volume is new. `alembic upgrade head` is a no-op when up to date.
# `upgrade heads` as the upstream CommandCenter repository's backend/scripts/startup.sh does (its migration
# tree can have several heads).
# The wait for the database first (stack/upstream_fixes.py DB_WAIT, as upstream's backend/scripts/startup.sh).
MIGRATE = "alembic upgrade heads"
BACKEND_START = f"{fixes.DB_WAIT} && {MIGRATE} && exec uvicorn app.main:app --host 0.0.0.0 --port 8000"

# The backend's layout follows the upstream repository: backend/requirements.txt installs
# `-e ../libs/knowledgebeast`, so backend/ and libs/ are copied side by side (/app/backend, /app/libs) and the
# build runs in /app/backend, where ../libs resolves as in a checkout, with no rewrite of the file.
APP_ROOT = "/app"
BACKEND_DIR = f"{APP_ROOT}/backend"
LIBS_DIR = f"{APP_ROOT}/libs"
FRONTEND_DIR = f"{APP_ROOT}/frontend"
# System packages the backend's wheels build with (psycopg2 and friends), as upstream's backend/Dockerfile
# installs in its builder stage.
BACKEND_APT_PACKAGES = ("gcc", "g++", "libpq-dev")
BACKEND_SYSTEM_STEP = ("sh", "-c", "apt-get update && apt-get install -y --no-install-recommends "
                       + " ".join(BACKEND_APT_PACKAGES) + " && rm -rf /var/lib/apt/lists/*")

# a stack secret ("db_password", "redis_password", "secret_key", "encryption_salt", "database_url",
# "redis_url"), or "env:KEY" for a secret variable the user set (env_vars.py)
SecretKey = str
# The engine installs its custom CA certificates (e.g. a company proxy's) into each container's system bundle;
# the node binary of the official images trusts only its own built-in roots, so `npm ci` behind such a proxy
# fails with SELF_SIGNED_CERT_IN_CHAIN unless told to add the system bundle (a missing file is only warned about).
NODE_SYSTEM_CA = ("NODE_EXTRA_CA_CERTS", "/etc/ssl/certs/ca-certificates.crt")
USER_ENV_SERVICES = ("backend", "worker", "beat")   # the services that get the user's variables
Sharing = Literal["LOCKED", "SHARED", "PRIVATE"]


def host_database_url(port: int, password: str) -> str:
    """The connection string of a project's exposed PostgreSQL, from this computer (holds the password)."""
    return f"postgresql://{DB_USER}:{password}@localhost:{port}/{DB_NAME}"


@dataclass(frozen=True)
class SecretEnv:
    env: str          # variable name in the container
    key: SecretKey    # which of the project's secret values
    name: str         # the Dagger secret's name (per project)


@dataclass(frozen=True)
class CacheMount:
    path: str
    volume: str
    sharing: Sharing
    owner: str = ""


# the cache volumes every project's builds share (the Storage tab lists them with what they hold)
PIP_CACHE, HF_CACHE, NPM_CACHE = "cchub-pip-cache", "cchub-huggingface-cache", "cchub-npm-cache"
SHARED_CACHES = ((PIP_CACHE, "pip downloads"), (HF_CACHE, "embedding model"), (NPM_CACHE, "npm downloads"))


@dataclass(frozen=True)
class ProjectMount:
    """The user's project folder, uploaded as a snapshot (changes never flow back)."""

    path: str
    host_path: Path
    read_only: bool
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class SourceCopy:
    """A folder (or, with `file`, one file) of the CommandCenter source copied into the container."""

    path: str
    subdir: str
    file: bool = False

    def describe(self) -> str:
        return f"{self.subdir} -> {self.path}" if self.file else f"{self.subdir}/ -> {self.path}"


@dataclass(frozen=True)
class NewFile:
    """A file the app writes into the container before the build steps (e.g. pip constraints)."""

    path: str
    contents: str


@dataclass(frozen=True)
class BuildStep:
    label: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class TunnelSpec:
    host_port: int
    container_port: int


@dataclass(frozen=True)
class ServiceSpec:
    name: str                     # also the binding alias / hostname
    title: str                    # for messages: "PostgreSQL"
    phase: StackPhase
    build_phase: StackPhase | None
    image: str
    system_steps: tuple[BuildStep, ...]   # run before the source is copied: cached across source changes
    sources: tuple[SourceCopy, ...]
    workdir: str | None
    caches: tuple[CacheMount, ...]
    build_env: tuple[tuple[str, str], ...]
    build_steps: tuple[BuildStep, ...]
    env: tuple[tuple[str, str], ...]
    secrets: tuple[SecretEnv, ...]
    mounts: tuple[ProjectMount, ...]
    bindings: tuple[str, ...]
    port: int | None              # None: the service listens on no port (Celery worker, beat)
    command: tuple[str, ...]
    use_entrypoint: bool
    tunnel: TunnelSpec | None
    health_path: str | None
    log_markers: tuple[str, ...]  # text that identifies this service's lines in the engine's log
    # written before the build steps, and the source copied after them: a source change that leaves them
    # alone does not invalidate the (slow) install layer
    files: tuple[NewFile, ...] = ()
    late_sources: tuple[SourceCopy, ...] = ()
    build_from: str | None = None   # runs that service's build (same image, source, caches, install)


@dataclass(frozen=True)
class SourceSpec:
    kind: Literal["git", "local"]
    git_url: str
    git_ref: str
    local_dir: Path | None
    exclude: tuple[str, ...]
    commit: str | None = None   # git: the pinned commit; None until the first start resolves the ref

    def describe(self) -> str:
        if self.kind == "local":
            return f"local {self.local_dir}"
        pinned = f", commit {self.commit[:7]}" if self.commit else ", not pinned yet"
        return f"git {self.git_url} @ {self.git_ref}{pinned}"


@dataclass(frozen=True)
class StackRecipe:
    project: str
    data_key: str   # what the project's volumes and secrets are named after
    source: SourceSpec
    services: tuple[ServiceSpec, ...]   # in start order

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def secret_envs(self) -> tuple[SecretEnv, ...]:
        return tuple(s for spec in self.services for s in spec.secrets)

    def tunnels(self) -> tuple[tuple[ServiceSpec, TunnelSpec], ...]:
        return tuple((spec, spec.tunnel) for spec in self.services if spec.tunnel is not None)

    def restarted_with(self, name: str) -> tuple[str, ...]:
        """`name` and every service that binds it, directly or through another, in start order: the engine
        stops a running service whose binding stops (seen on Dagger v0.21.8), so they restart together."""
        chosen = {self.service(name).name}
        for spec in self.services:   # start order: a service's bindings come before it
            if chosen.intersection(spec.bindings):
                chosen.add(spec.name)
        return tuple(spec.name for spec in self.services if spec.name in chosen)


def secret_values(config: CommandCenterConfig) -> dict[SecretKey, str]:
    """Every secret value of the stack, by key; the URLs embed the passwords."""
    s = config.secrets
    return {
        "db_password": s.db_password,
        "redis_password": s.redis_password,
        "secret_key": s.secret_key,
        "encryption_salt": s.encryption_salt,
        "database_url": f"postgresql+asyncpg://{DB_USER}:{s.db_password}@postgres:{POSTGRES_PORT}/{DB_NAME}",
        "redis_url": f"redis://:{s.redis_password}@redis:{REDIS_PORT}/0",
        **{f"env:{k}": v for k, v in config.environment.secret},
    }


def build_recipe(config: CommandCenterConfig) -> StackRecipe:
    key = config.data_key

    def secret(env: str, key: SecretKey) -> SecretEnv:
        return SecretEnv(env=env, key=key, name=f"cchub-{config.data_key}-{key.replace('_', '-')}")

    def tunnel(host_port: int, container_port: int, exposed: bool = True) -> TunnelSpec | None:
        return TunnelSpec(host_port, container_port) if exposed else None

    images = config.images
    postgres = ServiceSpec(
        name="postgres", title="PostgreSQL", phase=StackPhase.POSTGRES, build_phase=None,
        image=images.postgres, system_steps=(), sources=(), workdir=None,
        caches=(CacheMount(PGDATA, config.pgdata_volume, "LOCKED", owner="postgres"),),
        build_env=(), build_steps=(),
        env=(("POSTGRES_USER", DB_USER), ("POSTGRES_DB", DB_NAME), ("PGDATA", f"{PGDATA}/pgdata")),
        secrets=(secret("POSTGRES_PASSWORD", "db_password"),),
        mounts=(), bindings=(), port=POSTGRES_PORT,
        command=("postgres",), use_entrypoint=True,
        tunnel=tunnel(config.postgres_port, POSTGRES_PORT, config.expose_db), health_path=None,
        log_markers=(images.postgres, "postgres"),
    )
    redis = ServiceSpec(
        name="redis", title="Redis", phase=StackPhase.REDIS, build_phase=None,
        image=images.redis, system_steps=(), sources=(), workdir="/data",
        caches=(CacheMount("/data", f"cchub-{key}-redis", "LOCKED"),),
        build_env=(), build_steps=(), env=(),
        secrets=(secret("REDIS_PASSWORD", "redis_password"),),
        mounts=(), bindings=(), port=REDIS_PORT,
        command=("sh", "-c", REDIS_START), use_entrypoint=False,
        tunnel=tunnel(config.redis_port, REDIS_PORT, config.expose_db), health_path=None,
        log_markers=(images.redis, "redis-server"),
    )
    nats = ServiceSpec(
        name="nats", title="NATS", phase=StackPhase.NATS, build_phase=None,
        image=fixes.NATS_IMAGE, system_steps=(), sources=(), workdir=None, caches=(),
        build_env=(), build_steps=(), env=(), secrets=(), mounts=(), bindings=(), port=fixes.NATS_PORT,
        command=("nats-server", *fixes.NATS_ARGS), use_entrypoint=False, tunnel=None, health_path=None,
        log_markers=(fixes.NATS_IMAGE, "nats-server"),
    )
    # Environment after the upstream repository's .env.docker and backend/app/config.py: every setting has a
    # default there, so nothing is strictly required to import the app and answer /health, but the defaults
    # point at SQLite and dev secrets; these make it use this stack's PostgreSQL, Redis, NATS and secrets.
    backend_env = (
        ("PYTHONUNBUFFERED", "1"), ("WORKSPACE_DIR", WORKSPACE),
        # "production" makes upstream's app/main.py log to /app/logs/commandcenter.log; a desktop stack
        # reads the service's output instead.
        ("ENVIRONMENT", "development"),
        ("POSTGRES_USER", DB_USER), ("POSTGRES_DB", DB_NAME), ("POSTGRES_HOST", "postgres"),
        ("POSTGRES_PORT", str(POSTGRES_PORT)), ("NATS_URL", fixes.NATS_URL), ("HF_HOME", fixes.HF_HOME),
        ("CORS_ORIGINS", json.dumps([config.frontend_url, f"http://127.0.0.1:{config.frontend_port}"])))
    backend_secrets = (
        secret("DATABASE_URL", "database_url"), secret("POSTGRES_PASSWORD", "db_password"),
        secret("REDIS_URL", "redis_url"), secret("CELERY_BROKER_URL", "redis_url"),
        secret("CELERY_RESULT_BACKEND", "redis_url"), secret("SECRET_KEY", "secret_key"),
        secret("ENCRYPTION_SALT", "encryption_salt"))
    rag_storage = CacheMount(fixes.RAG_STORAGE, fixes.rag_storage_volume(key), "SHARED")
    torch_step = (BuildStep("torch (CPU only)", ("sh", "-c", fixes.TORCH_CPU_STEP)),) if not config.cuda_torch else ()
    backend = ServiceSpec(
        name="backend", title="backend", phase=StackPhase.BACKEND, build_phase=StackPhase.BACKEND_BUILD,
        image=images.python,
        system_steps=(BuildStep("system packages", BACKEND_SYSTEM_STEP),),
        # requirements.txt and libs/ (its `-e ../libs/...`) before the install, the rest of backend/ after it,
        # as upstream's backend/Dockerfile orders its layers
        sources=(SourceCopy(f"{BACKEND_DIR}/requirements.txt", "backend/requirements.txt", file=True),
                 SourceCopy(LIBS_DIR, "libs")),
        workdir=BACKEND_DIR,
        caches=(CacheMount("/root/.cache/pip", PIP_CACHE, "SHARED"),
                CacheMount(fixes.HF_HOME, HF_CACHE, "SHARED"), rag_storage),
        build_env=(("PIP_DISABLE_PIP_VERSION_CHECK", "1"),),
        build_steps=(BuildStep("requirements fix", fixes.REWRITE_STEP), *torch_step,
                     BuildStep("pip install", ("pip", "install", "-r", "requirements.txt",
                                               "-c", fixes.CONSTRAINTS_FILE))),
        env=backend_env, secrets=backend_secrets,
        mounts=(ProjectMount(WORKSPACE, config.project_path, True, WORKSPACE_EXCLUDE),),
        bindings=("postgres", "redis", "nats"), port=BACKEND_PORT,
        command=("sh", "-c", BACKEND_START), use_entrypoint=False,
        tunnel=tunnel(config.backend_port, BACKEND_PORT), health_path="/health",
        log_markers=(images.python, "apt-get", "pip install", "alembic", "uvicorn"),
        files=(NewFile(fixes.CONSTRAINTS_FILE, fixes.constraints_text()),
               NewFile(fixes.REWRITE_FILE, fixes.REWRITE_SCRIPT),
               NewFile(fixes.DB_WAIT_FILE, fixes.DB_WAIT_SCRIPT)),
        late_sources=(SourceCopy(BACKEND_DIR, "backend"),),
    )
    worker = dataclasses.replace(
        backend, name="worker", title="Celery worker", phase=StackPhase.WORKER, build_phase=None,
        env=backend_env, mounts=(), port=None, command=fixes.CELERY_WORKER, tunnel=None, health_path=None,
        log_markers=("app.tasks worker",), build_from="backend")
    beat = dataclasses.replace(
        backend, name="beat", title="Celery beat", phase=StackPhase.BEAT, build_phase=None, mounts=(),
        port=None, command=fixes.CELERY_BEAT, tunnel=None, health_path=None,
        log_markers=("app.tasks beat",), build_from="backend")
    frontend = ServiceSpec(
        name="frontend", title="frontend", phase=StackPhase.FRONTEND, build_phase=StackPhase.FRONTEND_BUILD,
        image=images.node, system_steps=(), sources=(SourceCopy(FRONTEND_DIR, "frontend"),), workdir=FRONTEND_DIR,
        caches=(CacheMount("/root/.npm", NPM_CACHE, "SHARED"),),
        build_env=(("NPM_CONFIG_UPDATE_NOTIFIER", "false"), NODE_SYSTEM_CA),
        build_steps=(BuildStep("npm ci", ("npm", "ci")),),
        # the URL the browser uses to reach the backend: the host tunnel, not the container hostname. The
        # upstream frontend reads VITE_API_BASE_URL and VITE_API_URL (frontend/src, docker-compose.yml) and
        # shows VITE_PROJECT_NAME as its title.
        env=(("VITE_API_BASE_URL", config.backend_url), ("VITE_API_URL", config.backend_url),
             ("VITE_PROJECT_NAME", config.name)),
        secrets=(), mounts=(), bindings=("backend",), port=FRONTEND_PORT,
        command=("npx", "vite", "--host", "0.0.0.0", "--port", str(FRONTEND_PORT), "--strictPort"),
        use_entrypoint=False,
        tunnel=tunnel(config.frontend_port, FRONTEND_PORT), health_path="/",
        log_markers=(images.node, "npm ci", "vite"),
    )
    src = config.source
    source = SourceSpec(kind="local" if src.local_dir is not None else "git", git_url=src.git_url,
                        git_ref=src.git_ref, local_dir=src.local_dir, exclude=SOURCE_EXCLUDE,
                        commit=src.commit if src.local_dir is None else None)
    services = tuple(_with_user_env(spec, config) if spec.name in USER_ENV_SERVICES else spec
                     for spec in (postgres, redis, nats, backend, worker, beat, frontend))
    return StackRecipe(project=config.name, data_key=key, source=source, services=services)


def _with_user_env(spec: ServiceSpec, config: CommandCenterConfig) -> ServiceSpec:
    """The user's variables (Settings and the project's Environment): plain ones as env, secret ones as Dagger
    secrets named after the project and the variable."""
    user = config.environment
    secrets = tuple(SecretEnv(env=k, key=f"env:{k}", name=f"cchub-{config.data_key}-env-{k}")
                    for k in user.secret_names())
    return dataclasses.replace(spec, env=spec.env + user.plain, secrets=spec.secrets + secrets)
