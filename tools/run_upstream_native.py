"""Run what the stack's recipe runs on a real CommandCenter checkout, without containers.

    python tools/run_upstream_native.py CHECKOUT [--work DIR] [--screenshot FILE.png]

The commands and the environment come from the recipe itself (stack/recipe.py `build_recipe` of a
CommandCenterConfig, and stack/upstream_fixes.py), so this cannot drift from what a project's stack runs:
the backend's build steps (the CPU-only torch step and `pip install -r requirements.txt -c <constraints>`) in a
virtualenv, the backend's service command (the database wait, `alembic upgrade heads`, uvicorn) until its
health path answers, the Celery worker and beat, and the frontend's `npm ci` and vite. PostgreSQL (with
pgvector, on an empty data folder), Redis and NATS run as host processes in the place of their images, with
the recipe's user, database, password and arguments. Only the container paths, hostnames and ports are
rewritten to the host's (`HostLayout`): loopback addresses and free ports.

Then a Celery task goes through Redis the way the backend sends it (an API call that enqueues one) and the
worker must execute it; with --screenshot, headless Chromium takes a picture of the frontend.

It prints each step with its duration, then the numbers: the migrations' exit code, the seconds from the
backend's command to its health path answering, and whether the task was executed. Everything it started is
stopped on exit, also on Ctrl-C or a failure. It is slow the first time (gigabytes of wheels) and not part of
the test suite; docs/upstream-run.md has the machine preparation and a run's output.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import cchub_desktop.stack.upstream_fixes as fixes  # noqa: E402
from cchub_desktop.settings import AppSettings  # noqa: E402
from cchub_desktop.stack.config import CommandCenterConfig, ImageSettings, SourceSettings  # noqa: E402
from cchub_desktop.stack.recipe import (  # noqa: E402
    ServiceSpec,
    StackRecipe,
    build_recipe,
    secret_values,
)
from cchub_desktop.stack.secrets_store import ProjectSecrets  # noqa: E402

LOOPBACK = "127.0.0.1"
# Where the run waits at most (generous: a loaded 2-core machine). The bar for /health is 30 s.
SERVICE_WAIT_S = 120.0
BACKEND_WAIT_S = 300.0
TASK_WAIT_S = 180.0
FRONTEND_WAIT_S = 180.0
STOP_WAIT_S = 20.0
# The upstream API a task round trip goes through (backend/app/routers/projects.py and jobs.py at cc1da242):
# a job of type "analysis" is dispatched with `execute_job.apply_async` (app/services/job_service.py) and the
# worker marks it completed (app/tasks/job_tasks.py).
PROJECTS_API = "/api/v1/projects/"   # the router's path ends in "/" (a POST without it answers 307)
JOBS_API = "/api/v1/jobs"
JOB_DONE = ("completed", "failed", "cancelled")
# the host's variables a service keeps (a container starts from a clean environment; these make tools work)
HOST_ENV_KEEP = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER")


class RunStop(Exception):
    """A step could not go on: one line that says what happened and what to do."""


# ----- the plan: the recipe's commands with host paths, addresses and ports -----------------------------------


@dataclass(frozen=True)
class HostLayout:
    """Where the run's container paths and service addresses are on this host."""

    checkout: Path
    run_dir: Path        # this run's data: pgdata, redis, nats, logs, files (new each run)
    venv: Path           # the backend's virtualenv (kept between runs: the install is gigabytes)
    hf_home: Path        # the model download cache (kept between runs)
    ports: Mapping[str, int]   # service name -> host port; "nats-monitor" for NATS's monitoring port

    @property
    def files_dir(self) -> Path:
        return self.run_dir / "files"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"


@dataclass(frozen=True)
class Command:
    label: str
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NativeService:
    """One of the recipe's services as host commands."""

    name: str
    title: str
    files: Mapping[Path, str]            # written before the build steps
    build: tuple[Command, ...]
    prepare: tuple[Command, ...]         # the service command's steps before the long-running one
    run: Command | None
    env: Mapping[str, str]               # the recipe's env and secrets, rewritten for the host
    port: int | None
    health_path: str | None


def make_config(checkout: Path, ports: Mapping[str, int], project_dir: Path) -> CommandCenterConfig:
    """The config a new project with this checkout as its local source would have (fresh secrets)."""
    return CommandCenterConfig(
        name="Upstream native run", slug="upstream-native", data_key="upstream-native", project_path=project_dir,
        backend_port=ports["backend"], frontend_port=ports["frontend"], postgres_port=ports["postgres"],
        redis_port=ports["redis"], expose_db=False, secrets=ProjectSecrets.generate(),
        source=SourceSettings(git_url="", git_ref="", local_dir=checkout),
        images=ImageSettings.from_settings(AppSettings()))


class Rewriter:
    """Container paths, hostnames and ports -> this host's."""

    def __init__(self, recipe: StackRecipe, layout: HostLayout) -> None:
        self.layout = layout
        paths: dict[str, str] = {}
        for spec in recipe.services:
            for copy in (*spec.sources, *spec.late_sources):
                paths[copy.path] = str(layout.checkout / copy.subdir)
            for new in spec.files:
                paths[new.path] = str(layout.files_dir / Path(new.path).name)
            for cache in spec.caches:
                if cache.path == fixes.HF_HOME:
                    paths[cache.path] = str(layout.hf_home)
                elif cache.path == fixes.RAG_STORAGE:
                    paths[cache.path] = str(layout.run_dir / "rag_storage")
            for mount in spec.mounts:
                paths[mount.path] = str(layout.run_dir / "workspace")
        beat_schedule = next(a.split("=", 1)[1] for a in fixes.CELERY_BEAT if a.startswith("--schedule="))
        paths[beat_schedule] = str(layout.run_dir / Path(beat_schedule).name)
        # longest first: /app/backend/requirements.txt before /app/backend
        self.paths = dict(sorted(paths.items(), key=lambda kv: -len(kv[0])))
        self.addresses = {f"{spec.name}:{spec.port}": f"{LOOPBACK}:{layout.ports[spec.name]}"
                          for spec in recipe.services if spec.port is not None}
        self.hosts = {spec.name for spec in recipe.services}
        self.service_ports = {spec.name: (spec.port, layout.ports[spec.name])
                              for spec in recipe.services if spec.port is not None}

    def text(self, value: str) -> str:
        for container, host in self.addresses.items():
            value = value.replace(container, host)
        for container, host in self.paths.items():
            value = re.sub(rf"(?<![\w./]){re.escape(container)}(?![\w-])", host, value)
        return value.replace("--host 0.0.0.0", f"--host {LOOPBACK}")

    def argv(self, args: Sequence[str], spec: ServiceSpec) -> tuple[str, ...]:
        out = [self.text(a) for a in args]
        if spec.port is not None:
            host_port = str(self.layout.ports[spec.name])
            out = [re.sub(rf"--port {spec.port}\b", f"--port {host_port}", a) for a in out]
            out = [host_port if i and out[i - 1] == "--port" and a == str(spec.port) else a
                   for i, a in enumerate(out)]
        return tuple(LOOPBACK if i and out[i - 1] == "--host" and a == "0.0.0.0" else a for i, a in enumerate(out))

    def env(self, key: str, value: str) -> str:
        if value in self.hosts:
            return LOOPBACK                                # POSTGRES_HOST=postgres
        for name, (container, host) in self.service_ports.items():
            if key == f"{name.upper()}_PORT" and value == str(container):
                return str(host)                           # POSTGRES_PORT=5432
        return self.text(value)


def native_plan(config: CommandCenterConfig, layout: HostLayout) -> dict[str, NativeService]:
    """The recipe's backend, worker, beat and frontend as host commands (the databases: see `DataServices`)."""
    recipe = build_recipe(config)
    rw = Rewriter(recipe, layout)
    values = secret_values(config)
    venv_bin = layout.venv / "bin"
    base_path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    plan: dict[str, NativeService] = {}
    for spec in recipe.services:
        if spec.name in ("postgres", "redis", "nats"):
            continue
        built = recipe.service(spec.build_from) if spec.build_from else spec
        cwd = Path(rw.text(built.workdir or str(layout.checkout)))
        env = {k: rw.env(k, v) for k, v in spec.env}
        env.update({s.env: rw.env(s.env, values[s.key]) for s in spec.secrets})
        env["PATH"] = base_path if built.image == config.images.python else os.environ.get("PATH", os.defpath)
        if built.image == config.images.python:
            env["VIRTUAL_ENV"] = str(layout.venv)
        build_env = {**env, **dict(built.build_env)}
        build = tuple(Command(step.label, rw.argv(step.args, built), cwd, build_env)
                      for step in built.build_steps) if spec.build_from is None else ()
        files = {Path(rw.text(f.path)): f.contents for f in built.files} if spec.build_from is None else {}
        prepare: tuple[Command, ...] = ()
        command = rw.argv(spec.command, spec)
        if command[:2] == ("sh", "-c") and " && " in command[2]:
            # the service command's steps one by one (timed, the migrations' exit code seen), in its order
            *first, last = command[2].split(" && ")
            prepare = tuple(Command(_step_label(part), ("sh", "-c", part), cwd, env) for part in first)
            command = ("sh", "-c", last)
        run = Command(spec.title, command, cwd, env)
        plan[spec.name] = NativeService(
            name=spec.name, title=spec.title, files=files, build=build, prepare=prepare, run=run, env=env,
            port=layout.ports.get(spec.name) if spec.port is not None else None, health_path=spec.health_path)
    if "backend" in plan:
        plan["backend"] = _fix_a_copy(plan["backend"], layout)
    return plan


RECIPE_REQUIREMENTS = "requirements.txt"
FIX_LABEL = "requirements fix"


def _fix_a_copy(backend: NativeService, layout: HostLayout) -> NativeService:
    """In a container the recipe's requirements fix edits the build's own copy of requirements.txt; here it
    edits a copy in this run's folder, which the install then reads: the checkout is never changed."""
    fix = next((c for c in backend.build if c.label == FIX_LABEL), None)
    if fix is None:
        return backend
    copy = layout.files_dir / "requirements-fixed.txt"
    script = f"cp {RECIPE_REQUIREMENTS} {shlex.quote(str(copy))} && {shlex.join(fix.argv)} {shlex.quote(str(copy))}"
    fixed = dataclasses.replace(fix, argv=("sh", "-c", script))
    backend = dataclasses.replace(backend, build=tuple(fixed if c is fix else c for c in backend.build))
    return with_requirements(backend, str(copy))


def with_requirements(backend: NativeService, requirements: str) -> NativeService:
    """The backend with another requirements file in its `pip install -r` (a deviation the run announces)."""
    def swap(cmd: Command) -> Command:
        argv = list(cmd.argv)
        for i in range(1, len(argv)):
            if argv[i - 1] == "-r" and argv[0] == "pip":
                argv[i] = requirements
        return dataclasses.replace(cmd, argv=tuple(argv))
    return dataclasses.replace(backend, build=tuple(swap(c) for c in backend.build))


def _step_label(part: str) -> str:
    if "alembic" in part:
        return "migrations"
    if Path(fixes.DB_WAIT_FILE).name in part:
        return "database wait"
    return part.split()[0]


@dataclass(frozen=True)
class DataServices:
    """PostgreSQL, Redis and NATS as host processes, with what the recipe gives their images."""

    db_user: str
    db_name: str
    db_password: str
    redis_password: str
    nats_args: tuple[str, ...]

    @classmethod
    def from_recipe(cls, config: CommandCenterConfig, layout: HostLayout) -> DataServices:
        recipe = build_recipe(config)
        values = secret_values(config)
        pg, redis, nats = recipe.service("postgres"), recipe.service("redis"), recipe.service("nats")
        pg_env = dict(pg.env)
        pg_secret = {s.env: values[s.key] for s in pg.secrets}
        redis_secret = {s.env: values[s.key] for s in redis.secrets}
        args = list(nats.command[1:])
        args[args.index("-m") + 1] = str(layout.ports["nats-monitor"])
        return cls(db_user=pg_env["POSTGRES_USER"], db_name=pg_env["POSTGRES_DB"],
                   db_password=pg_secret["POSTGRES_PASSWORD"], redis_password=redis_secret["REDIS_PASSWORD"],
                   nats_args=(*args, "-a", LOOPBACK, "-p", str(layout.ports["nats"]),
                              "-sd", str(layout.run_dir / "nats")))


# ----- the run -------------------------------------------------------------------------------------------------


def free_ports(names: Sequence[str]) -> dict[str, int]:
    socks = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return {name: s.getsockname()[1] for name, s in zip(names, socks, strict=True)}
    finally:
        for s in socks:
            s.close()


class Run:
    """Starts the processes, remembers each, and stops them all (their process groups) at the end."""

    def __init__(self, layout: HostLayout, out: TextIO) -> None:
        self.layout = layout
        self.out = out
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.numbers: dict[str, str] = {}

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.say(f"[....] {name}")
        t0 = time.monotonic()
        try:
            yield
        except RunStop:
            self.say(f"[fail] {name} ({time.monotonic() - t0:.1f} s)")
            raise
        self.say(f"[ ok ] {name} ({time.monotonic() - t0:.1f} s)")

    def log_path(self, name: str) -> Path:
        return self.layout.logs_dir / f"{name.replace(' ', '-')}.log"

    def run(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
            user: str | None = None, check: bool = True, timeout: float | None = None) -> int:
        log = self.log_path(name)
        with log.open("ab") as fh:
            fh.write(f"$ {shlex.join(argv)}\n".encode())
            fh.flush()
            proc = _popen(name, _as_user(argv, user), cwd, env, fh)
            self.procs.append((name, proc))
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RunStop(f"{name} did not finish within {timeout:.0f} s (log: {log})") from None
            self.procs.remove((name, proc))
        if check and code != 0:
            raise RunStop(f"{name} exited {code}: {last_error_line(log)} (log: {log})")
        return code

    def start(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
              user: str | None = None) -> subprocess.Popen[bytes]:
        log = self.log_path(name)
        fh = log.open("ab")
        fh.write(f"$ {shlex.join(argv)}\n".encode())
        fh.flush()
        try:
            proc = _popen(name, _as_user(argv, user), cwd, env, fh)
        finally:
            fh.close()
        self.procs.append((name, proc))
        return proc

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float,
                   proc: subprocess.Popen[bytes] | None = None, log_name: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc is not None and proc.poll() is not None:
                log = self.log_path(log_name or what)
                raise RunStop(f"{what} exited {proc.returncode}: {last_error_line(log)} (log: {log})")
            if time.monotonic() > deadline:
                log = self.log_path(log_name or what)
                raise RunStop(f"{what} not ready within {timeout:.0f} s (log: {log})")
            time.sleep(0.5)

    def stop_all(self) -> None:
        """Newest first, each waited for: the backend, worker and beat stop before the services they use."""
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    # PostgreSQL: SIGINT is its fast shutdown; the others stop on SIGTERM
                    os.killpg(proc.pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                self.say(f"       {name} did not stop within {STOP_WAIT_S:.0f} s: killed")
        self.procs.clear()


def _popen(name: str, argv: list[str], cwd: Path, env: Mapping[str, str], out: Any) -> subprocess.Popen[bytes]:
    """A process in its own group (stopped with everything it starts), or RunStop naming what is missing."""
    try:
        return subprocess.Popen(argv, cwd=cwd, env=_full_env(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        raise RunStop(f"{name} could not start: {exc.strerror}: {argv[0]} (in {cwd})") from None


def _as_user(argv: Sequence[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else list(argv)


def _full_env(env: Mapping[str, str]) -> dict[str, str]:
    base = {k: os.environ[k] for k in HOST_ENV_KEEP if k in os.environ}
    base.setdefault("PATH", os.environ.get("PATH", os.defpath))
    return {**base, **env}


def last_error_line(log: Path) -> str:
    """The last line that names an error (pip's and a traceback's last line say the most), else the last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no output"
    for line in reversed(lines):
        if re.search(r"(ERROR|Error\b|error:|FATAL|Exception\b)", line) and not line.startswith("$ "):
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError):
        return 0, b""


def http_json(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RunStop(f"{method} {url} answered {exc.code}: {exc.read()[:300].decode(errors='replace')}") from None
    except OSError as exc:
        raise RunStop(f"{method} {url} failed: {exc}") from None


# ----- preflight ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostTools:
    pg_bin: Path
    pg_user: str | None
    redis_server: str
    nats_server: str
    npm: str
    chromium: str | None


def find_tools(pg_bin: str | None, want_chromium: bool) -> HostTools:
    """The host programs the run needs, or RunStop naming the first one missing and how to get it."""
    candidates = [Path(pg_bin)] if pg_bin else sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                                                       key=lambda p: int(p.parent.name) if p.parent.name.isdigit()
                                                       else 0, reverse=True)
    bins = [p for p in candidates if (p / "initdb").exists() and (p / "postgres").exists()]
    if not bins:
        raise RunStop("PostgreSQL server not found (no initdb): apt-get install postgresql-15, or pass --pg-bin")
    bin_dir = bins[0]
    major = _pg_major(bin_dir)
    share = _pg_sharedir(bin_dir, major)
    if not (share / "extension" / "vector.control").exists():
        raise RunStop(f"pgvector not installed for PostgreSQL {major} (no {share}/extension/vector.control): "
                      f"apt-get install postgresql-{major}-pgvector, or build it (docs/upstream-run.md)")
    pg_user: str | None = None
    if os.geteuid() == 0:   # PostgreSQL refuses to run as root
        pg_user = "postgres"
        if subprocess.run(["id", "-u", pg_user], capture_output=True).returncode != 0:
            raise RunStop("running as root and no 'postgres' user to run PostgreSQL as: create one "
                          "(useradd --system postgres) or run as another user")
    found = {name: shutil.which(name) for name in ("redis-server", "nats-server", "npm")}
    hints = {"redis-server": "apt-get install redis-server", "nats-server": "apt-get install nats-server",
             "npm": "install Node.js 20 with npm"}
    for name, path in found.items():
        if path is None:
            raise RunStop(f"{name} not found: {hints[name]}")
    chromium = (shutil.which("chromium") or shutil.which("chromium-browser")) if want_chromium else None
    if want_chromium and chromium is None:
        raise RunStop("chromium not found for --screenshot: apt-get install chromium")
    return HostTools(bin_dir, pg_user, str(found["redis-server"]), str(found["nats-server"]), str(found["npm"]),
                     chromium)


def _pg_major(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "postgres"), "-V"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(1) if match else bin_dir.parent.name


def _pg_sharedir(bin_dir: Path, major: str) -> Path:
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True).stdout.strip()
        if out:
            return Path(out)
    return Path(f"/usr/share/postgresql/{major}")


def check_checkout(checkout: Path) -> None:
    for rel in ("backend/requirements.txt", "backend/alembic.ini", "frontend/package-lock.json"):
        if not (checkout / rel).exists():
            raise RunStop(f"{checkout} is not a CommandCenter checkout (no {rel}): pass the repository's folder")


# ----- the steps ----------------------------------------------------------------------------------------------


def start_postgres(run: Run, tools: HostTools, data: DataServices) -> None:
    layout = run.layout
    pgdata, sockets = layout.run_dir / "pgdata", layout.run_dir / "pg-socket"
    pwfile = layout.run_dir / "pg-password"
    for d in (pgdata, sockets):
        d.mkdir(mode=0o700)
    pwfile.write_text(data.db_password + "\n")
    pwfile.chmod(0o600)
    if tools.pg_user:
        for p in (pgdata, sockets, pwfile):
            shutil.chown(p, tools.pg_user)
    env = {"LC_ALL": "C.UTF-8"}
    # as the image's entrypoint: the recipe's user is the superuser, with its password, and its database
    run.run("postgres initdb", [str(tools.pg_bin / "initdb"), "-D", str(pgdata), "-U", data.db_user,
                                f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8"],
            layout.run_dir, env, user=tools.pg_user, timeout=SERVICE_WAIT_S)
    pwfile.unlink()
    port = layout.ports["postgres"]
    proc = run.start("postgres", [str(tools.pg_bin / "postgres"), "-D", str(pgdata), "-p", str(port),
                                  "-c", f"listen_addresses={LOOPBACK}", "-c", f"unix_socket_directories={sockets}"],
                     layout.run_dir, env, user=tools.pg_user)
    pg_env = {"PGPASSWORD": data.db_password, **env}
    ready = [str(tools.pg_bin / "pg_isready"), "-h", LOOPBACK, "-p", str(port), "-U", data.db_user]
    run.wait_until("postgres", lambda: subprocess.run(ready, capture_output=True, env=_full_env(pg_env))
                   .returncode == 0, SERVICE_WAIT_S, proc)
    run.run("postgres createdb", [str(tools.pg_bin / "createdb"), "-h", LOOPBACK, "-p", str(port),
                                  "-U", data.db_user, data.db_name], layout.run_dir, pg_env, timeout=SERVICE_WAIT_S)


def start_redis(run: Run, tools: HostTools, data: DataServices) -> None:
    layout = run.layout
    redis_dir = layout.run_dir / "redis"
    redis_dir.mkdir()
    conf = redis_dir / "redis.conf"
    # as the recipe's REDIS_START: the password in a config file, append-only, its data folder
    conf.write_text(f"requirepass {data.redis_password}\nappendonly yes\ndir {redis_dir}\n"
                    f"bind {LOOPBACK}\nport {layout.ports['redis']}\n")
    conf.chmod(0o600)
    proc = run.start("redis", [tools.redis_server, str(conf)], layout.run_dir, {})
    run.wait_until("redis", lambda: _port_open(layout.ports["redis"]), SERVICE_WAIT_S, proc)


def start_nats(run: Run, tools: HostTools, data: DataServices) -> None:
    proc = run.start("nats", [tools.nats_server, *data.nats_args], run.layout.run_dir, {})
    run.wait_until("nats", lambda: http_get(f"http://{LOOPBACK}:{run.layout.ports['nats-monitor']}/healthz")[0]
                   == 200, SERVICE_WAIT_S, proc)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((LOOPBACK, port)) == 0


def build_backend(run: Run, backend: NativeService) -> None:
    layout = run.layout
    layout.files_dir.mkdir(exist_ok=True)
    for path, contents in backend.files.items():
        path.write_text(contents)
    if not (layout.venv / "bin" / "python").exists():
        with run.step(f"virtualenv {layout.venv} ({sys.version.split()[0]})"):
            run.run("venv", [sys.executable, "-m", "venv", str(layout.venv)], layout.run_dir, {},
                    timeout=SERVICE_WAIT_S)
    for cmd in backend.build:
        with run.step(f"backend build: {cmd.label}"):
            run.run(f"build {cmd.label}", cmd.argv, cmd.cwd, cmd.env)


def start_backend(run: Run, backend: NativeService) -> None:
    assert backend.run is not None and backend.port is not None
    (run.layout.run_dir / "workspace").mkdir(exist_ok=True)
    (run.layout.run_dir / "rag_storage").mkdir(exist_ok=True)
    t0 = time.monotonic()
    for cmd in backend.prepare:
        with run.step(f"backend: {cmd.label}: {cmd.argv[-1]}"):
            code = run.run("backend", cmd.argv, cmd.cwd, cmd.env, check=False, timeout=BACKEND_WAIT_S)
            if cmd.label == "migrations":
                run.numbers["migrations exit code"] = str(code)
            if code != 0:
                log = run.log_path("backend")
                raise RunStop(f"{cmd.label} exited {code}: {last_error_line(log)} (log: {log})")
    url = f"http://{LOOPBACK}:{backend.port}{backend.health_path}"
    with run.step(f"backend: {shlex.join(backend.run.argv[2:])} until {backend.health_path} answers"):
        proc = run.start("backend", backend.run.argv, backend.run.cwd, backend.run.env)
        run.wait_until("backend", lambda: http_get(url)[0] == 200, BACKEND_WAIT_S, proc)
    run.numbers["seconds from the backend command to /health"] = f"{time.monotonic() - t0:.1f}"


def start_celery(run: Run, svc: NativeService, ready_text: str) -> None:
    assert svc.run is not None
    log = run.log_path(svc.name)
    with run.step(f"{svc.title}: {shlex.join(svc.run.argv)}"):
        proc = run.start(svc.name, svc.run.argv, svc.run.cwd, svc.run.env)
        run.wait_until(svc.title, lambda: ready_text in log.read_text(errors="replace"), SERVICE_WAIT_S, proc,
                       log_name=svc.name)


def task_round_trip(run: Run, backend: NativeService) -> None:
    """A job created and dispatched through the API (the backend sends it with apply_async through Redis);
    the worker must take it to a final state."""
    base = f"http://{LOOPBACK}:{backend.port}"
    with run.step("Celery task round trip: POST /api/v1/jobs, /dispatch, the worker runs it"):
        project = http_json("POST", f"{base}{PROJECTS_API}", {"name": "Native run", "owner": "cchub",
                                                               "description": "made by tools/run_upstream_native.py"})
        job = http_json("POST", f"{base}{JOBS_API}", {"project_id": project["id"], "job_type": "analysis",
                                                       "parameters": {"project_id": project["id"]}})
        dispatched = http_json("POST", f"{base}{JOBS_API}/{job['id']}/dispatch")
        run.say(f"       job {job['id']} dispatched as Celery task {dispatched.get('celery_task_id')}")
        state: dict[str, Any] = {}

        def done() -> bool:
            state.update(http_json("GET", f"{base}{JOBS_API}/{job['id']}"))
            return state.get("status") in JOB_DONE

        try:
            run.wait_until("worker", done, TASK_WAIT_S, log_name="worker")
        finally:
            executed = state.get("status") not in (None, "pending", "queued")
            run.numbers["Celery task executed by the worker"] = (
                f"{'yes' if executed else 'no'} (job status {state.get('status')!r})")
        if state.get("status") != "completed":
            raise RunStop(f"the job ended {state.get('status')!r}: {state.get('error')}")
    status, body = http_get(f"{base}/health/detailed", timeout=30)
    with contextlib.suppress(ValueError):
        checks = json.loads(body).get("components") or json.loads(body).get("checks") or {}
        summary = ", ".join(f"{k} {v.get('status')}" for k, v in checks.items() if isinstance(v, dict))
        run.say(f"       /health/detailed: {status} ({summary})")
    run.numbers["/health/detailed"] = str(status)


def start_frontend(run: Run, frontend: NativeService) -> None:
    assert frontend.run is not None and frontend.port is not None
    for cmd in frontend.build:
        with run.step(f"frontend build: {cmd.label}"):
            run.run(f"frontend {cmd.label}", cmd.argv, cmd.cwd, cmd.env)
    url = f"http://localhost:{frontend.port}{frontend.health_path}"
    with run.step(f"frontend: {shlex.join(frontend.run.argv)} until {frontend.health_path} answers"):
        proc = run.start("frontend", frontend.run.argv, frontend.run.cwd, frontend.run.env)
        run.wait_until("frontend", lambda: http_get(url)[0] == 200, FRONTEND_WAIT_S, proc)
    run.numbers["frontend answers"] = url


def screenshot(run: Run, tools: HostTools, frontend: NativeService, target: Path) -> None:
    assert tools.chromium is not None
    url = f"http://localhost:{frontend.port}/"
    with run.step(f"screenshot of {url} -> {target}"):
        target.parent.mkdir(parents=True, exist_ok=True)
        profile = run.layout.run_dir / "chromium-profile"
        argv = [tools.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1280,800",
                f"--screenshot={target}", url]
        run.run("chromium", argv, run.layout.run_dir, {}, timeout=SERVICE_WAIT_S)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("checkout", type=Path, help="a CommandCenter checkout (the repository's folder)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the virtualenv, the model cache and each run's data go "
                             "(default: a folder beside the checkout, CHECKOUT-native-run)")
    parser.add_argument("--pg-bin", default=None, help="PostgreSQL's bin folder (default: the newest installed)")
    parser.add_argument("--screenshot", type=Path, default=None, help="a PNG of the frontend (headless Chromium)")
    parser.add_argument("--requirements", default=None,
                        help="a requirements file (in backend/) to install instead of the recipe's, when a package "
                             "index lacks a version requirements.txt asks for; the run says so")
    args = parser.parse_args(argv)
    checkout = args.checkout.resolve()
    work = (args.work or checkout.with_name(checkout.name + "-native-run")).resolve()
    try:
        check_checkout(checkout)
        tools = find_tools(args.pg_bin, args.screenshot is not None)
    except RunStop as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = work / time.strftime("run-%Y%m%d-%H%M%S")
    ports = free_ports(("backend", "frontend", "postgres", "redis", "nats", "nats-monitor"))
    layout = HostLayout(checkout=checkout, run_dir=run_dir, venv=work / "venv", hf_home=work / "huggingface",
                        ports=ports)
    layout.logs_dir.mkdir(parents=True)
    if tools.pg_user:
        _let_user_reach(run_dir, tools.pg_user)
    config = make_config(checkout, ports, run_dir / "workspace")
    plan = native_plan(config, layout)
    data = DataServices.from_recipe(config, layout)
    run = Run(layout, sys.stdout)
    run.say(f"CommandCenter checkout {checkout}{_head(checkout)}; this run: {run_dir}")
    run.say(f"PostgreSQL {tools.pg_bin}; ports {json.dumps(dict(ports))}")
    if args.requirements:
        plan["backend"] = with_requirements(plan["backend"], args.requirements)
        run.say(f"NOT the recipe's install: -r {args.requirements} instead of -r {RECIPE_REQUIREMENTS}")

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # also SIGINT: a shell without job control starts a background command with SIGINT ignored
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    code = 0
    t_all = time.monotonic()
    try:
        build_backend(run, plan["backend"])
        with run.step("PostgreSQL (pgvector) on an empty data folder"):
            start_postgres(run, tools, data)
        with run.step("Redis"):
            start_redis(run, tools, data)
        with run.step(f"NATS: nats-server {shlex.join(data.nats_args)}"):
            start_nats(run, tools, data)
        start_backend(run, plan["backend"])
        start_celery(run, plan["worker"], "ready.")
        start_celery(run, plan["beat"], "beat: Starting")
        task_round_trip(run, plan["backend"])
        start_frontend(run, plan["frontend"])
        if args.screenshot is not None:
            screenshot(run, tools, plan["frontend"], args.screenshot.resolve())
    except RunStop as exc:
        run.say(f"error: {exc}")
        code = 1
    except KeyboardInterrupt:
        run.say("interrupted")
        code = 130
    finally:
        with run.step("stop everything this run started"):
            run.stop_all()
    run.say(f"total {time.monotonic() - t_all:.1f} s")
    run.say("numbers:")
    for key in ("migrations exit code", "seconds from the backend command to /health",
                "Celery task executed by the worker", "/health/detailed", "frontend answers"):
        run.say(f"  {key}: {run.numbers.get(key, 'not reached')}")
    return code


def _let_user_reach(run_dir: Path, user: str) -> None:
    """PostgreSQL runs as `user`: it must be able to reach the run's folder."""
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(run_dir)], capture_output=True)
    if probe.returncode != 0:
        raise SystemExit(f"error: the user {user!r} cannot reach {run_dir}: choose a --work folder it can "
                         "traverse (not under /root)")


def _head(checkout: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    except OSError:
        return ""
    return f" at commit {out.stdout.strip()[:12]}" if out.returncode == 0 else ""


if __name__ == "__main__":
    sys.exit(main())

