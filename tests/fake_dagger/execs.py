"""What a command "does" in the fake engine: exit code and output, without running anything.

`default_exec` answers the commands a CommandCenter stack runs (pip install, npm ci, alembic upgrade
head, ...) with plausible output and exit code 0. A test can plug in its own behaviour with
FAKE_DAGGER_EXEC_HOOK=/path/to/hook.py defining `fake_exec(ctx: ExecContext) -> ExecResult | None`
(None falls back to the default); FAKE_DAGGER_EXEC_FAIL makes matching commands fail.
"""

from __future__ import annotations

import importlib.util
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from .state import image_name


@dataclass(frozen=True)
class ExecContext:
    command: list[str]
    image: str | None
    workdir: str
    env: dict[str, str]  # plain variables only; secret variables are listed by name
    secret_env: list[str] = field(default_factory=list)
    user: str = ""
    # a file in the container before the command runs (None: not there), e.g. the script psql -f reads
    read_file: Callable[[str], bytes | None] = field(default=lambda _path: None, compare=False, repr=False)
    # the tables (name -> rows) of the PostgreSQL a pg_dump/psql reaches, when volumes persist (volumes.py)
    database: dict[str, int] | None = None
    server_major: int | None = None
    comment: str | None = None  # COMMENT ON DATABASE of that PostgreSQL (volumes.py)
    # the folders that exist in the container (state.ContainerSpec.folders); None: not known, all do
    folders: frozenset[str] | None = None


@dataclass(frozen=True)
class ExecResult:
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    files: dict[str, bytes] = field(default_factory=dict)  # files the command wrote (Container.file reads them)
    database: dict[str, int] | None = None  # the tables after the command (written only when it succeeds)
    comment: str | None = None  # the database's comment after the command (written only when it succeeds)


ExecHook = Callable[[ExecContext], "ExecResult | None"]


def _joined(cmd: list[str]) -> str:
    return " ".join(cmd)


def default_exec(ctx: ExecContext) -> ExecResult:
    text = _joined(ctx.command)
    if ctx.command[:1] == ["false"]:
        return ExecResult(1)
    if ctx.command[:1] == ["true"]:
        return ExecResult()
    if ctx.command[:1] == ["echo"]:
        return ExecResult(0, " ".join(ctx.command[1:]) + "\n")
    if ctx.command[:2] == ["sh", "-c"] and len(ctx.command) > 2 and ctx.command[2].strip().startswith("exit "):
        code = int(ctx.command[2].split()[1])
        return ExecResult(code, "", f"sh: exit {code}\n" if code else "")
    if "pip install" in text or "pip3 install" in text:
        return ExecResult(0, (
            "Collecting fastapi\n  Using cached fastapi-0.115.0-py3-none-any.whl\n"
            "Collecting sentence-transformers\n"
            "  Downloading sentence_transformers-3.1.1-py3-none-any.whl (245 kB)\n"
            "Collecting torch\n  Downloading torch-2.4.1-cp311-cp311-manylinux1_x86_64.whl (797.1 MB)\n"
            "Collecting sqlalchemy[asyncio]\n  Using cached SQLAlchemy-2.0.35.tar.gz\n"
            "Building wheels for collected packages: psycopg2\n"
            "  Building wheel for psycopg2 (pyproject.toml): started\n"
            "  Building wheel for psycopg2 (pyproject.toml): finished with status 'done'\n"
            "Installing collected packages: sqlalchemy, fastapi, uvicorn, alembic, asyncpg, redis\n"
            "Successfully installed alembic-1.13.2 asyncpg-0.29.0 fastapi-0.115.0 redis-5.0.8 "
            "sqlalchemy-2.0.35 uvicorn-0.30.6\n"), "")
    if "npm ci" in text or "npm install" in text:
        return ExecResult(0, "\nadded 312 packages, and audited 313 packages in 4s\n\nfound 0 vulnerabilities\n",
                          "npm warn deprecated inflight@1.0.6: This module is not supported\n")
    if "alembic" in text and "upgrade" in text:
        return ExecResult(0, "", (
            "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n"
            "INFO  [alembic.runtime.migration] Will assume transactional DDL.\n"
            "INFO  [alembic.runtime.migration] Running upgrade  -> 0001_initial, initial schema\n"))
    if "pg_dump" in text:
        return _pg_dump(ctx.command, ctx.database, ctx.server_major, ctx.folders, knows_restrict(ctx.image))
    if ctx.command[:1] == ["psql"] and _option(ctx.command, "-f", "--file") is not None:
        return _psql_file(ctx, str(_option(ctx.command, "-f", "--file")))
    if ctx.command[:1] == ["psql"] and _option(ctx.command, "-c", "--command") is not None:
        return _psql_command(ctx, str(_option(ctx.command, "-c", "--command")))
    if ctx.command[:1] == ["tar"]:
        return _tar(ctx.command)
    if "pg_isready" in text:
        return ExecResult(0, "/var/run/postgresql:5432 - accepting connections\n", "")
    if "npm run build" in text or "vite build" in text:
        return ExecResult(0, "vite v5.4.8 building for production...\n✓ 1534 modules transformed.\n"
                             "dist/index.html  0.46 kB\n✓ built in 3.21s\n", "")
    return ExecResult(0, "", "")


NODE_CA_ENV = "NODE_EXTRA_CA_CERTS"


def untrusted_proxy_ca(ctx: ExecContext) -> ExecResult | None:
    """An engine with a custom CA (a TLS-inspecting proxy's: the real engine installs it into each container's
    system bundle) as an official node image sees it: its node binary trusts only its built-in roots, so npm's
    registry requests fail unless NODE_EXTRA_CA_CERTS adds the system bundle. None when the command is not
    affected."""
    text = _joined(ctx.command)
    if not any(word in text for word in ("npm ci", "npm install")) or ctx.env.get(NODE_CA_ENV):
        return None
    return ExecResult(1, "", (
        "npm error code SELF_SIGNED_CERT_IN_CHAIN\nnpm error errno SELF_SIGNED_CERT_IN_CHAIN\n"
        "npm error request to https://registry.npmjs.org/vite failed, reason: self-signed certificate in "
        "certificate chain\n"))


def _option(command: list[str], short: str, long: str) -> str | None:
    """The value of `-f X`, `-fX`, `--file X` or `--file=X` in a command line."""
    for i, arg in enumerate(command):
        if arg in (short, long) and i + 1 < len(command):
            return command[i + 1]
        if arg.startswith(long + "="):
            return arg[len(long) + 1:]
        if arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            return arg[len(short):]
    return None


# pg_dump and psql from the minor releases of 2025-08-14 on (13.22, 14.19, 15.14, 16.10, 17.6) put a plain dump
# between `\restrict KEY` and `\unrestrict KEY`; an older psql stops at the first with `invalid command
# \restrict` (exit 3 under ON_ERROR_STOP). Seen on the real engine: a dump by Debian's pg_dump 15.20 restored
# by pgserver's psql 16.2. An image whose tag names no minor (postgres:15-alpine, pgvector/pgvector:pg16) is
# taken as a current one.
RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}
_MAJOR_MINOR = re.compile(r"^(?:pg)?(\d{1,2})\.(\d{1,2})(?:[.\-_]|$)")
RESTRICT_KEY = "cchubfakerestrictkey"


def knows_restrict(image: str | None) -> bool:
    """Whether the PostgreSQL client tools of `image` write and read `\\restrict` (see RESTRICT_SINCE)."""
    last = (image or "").split("@", 1)[0].rsplit("/", 1)[-1]
    match = _MAJOR_MINOR.match(last.split(":", 1)[1]) if ":" in last else None
    if match is None:
        return True
    major, minor = int(match.group(1)), int(match.group(2))
    return major > max(RESTRICT_SINCE) or minor >= RESTRICT_SINCE.get(major, 100)


def _pg_dump(command: list[str], tables: dict[str, int] | None = None, major: int | None = None,
             folders: frozenset[str] | None = None, restrict: bool = False) -> ExecResult:
    """A plain-format dump naming the database and host it was asked for; to the -f file when given. With
    the server's tables known (volumes.py), it holds them; else one fixed table. `restrict`: between
    `\\restrict` and `\\unrestrict`, as pg_dump writes it since the minors of 2025-08 (RESTRICT_SINCE)."""
    from .volumes import dump_tables

    database = _option(command, "-d", "--dbname") or "postgres"
    host = _option(command, "-h", "--host") or "localhost"
    body = ("DROP TABLE IF EXISTS public.projects;\nCREATE TABLE public.projects (id integer NOT NULL);\n"
            if tables is None else dump_tables(tables))
    version = f"-- Dumped from database version {major}\n" if major is not None else ""
    dump = ("--\n-- PostgreSQL database dump\n--\n"
            + (f"\n\\restrict {RESTRICT_KEY}\n\n" if restrict else "")
            + f"{version}-- Dumped from database {database} on host {host}\n"
            f"-- Command: {shlex.join(command)}\n\nSET statement_timeout = 0;\n{body}"
            "\n--\n-- PostgreSQL database dump complete\n--\n"
            + (f"\n\\unrestrict {RESTRICT_KEY}\n\n" if restrict else ""))
    target = _option(command, "-f", "--file")
    if target is None:
        return ExecResult(0, dump, "")
    if folders is not None and posixpath.dirname(posixpath.normpath(target)) not in folders:
        # as the real pg_dump: it opens --file as it is and makes no folder for it
        return ExecResult(1, "", f'pg_dump: error: could not open output file "{target}": No such file or directory\n')
    return ExecResult(0, "", "", files={target: dump.encode()})


def _psql_file(ctx: ExecContext, path: str) -> ExecResult:
    """psql running a script: fails like psql when the file is not in the container."""
    data = ctx.read_file(path)
    if data is None:
        return ExecResult(1, "", f"psql: error: {path}: No such file or directory\n")
    from .volumes import run_script

    script = data.decode(errors="replace")
    if not knows_restrict(ctx.image):
        for number, line in enumerate(script.splitlines(), start=1):
            if line.startswith("\\restrict"):   # as psql before 16.10 (RESTRICT_SINCE), under ON_ERROR_STOP
                return ExecResult(3, "", f"psql:{path}:{number}: error: invalid command \\restrict\n")
    tags = [line.split()[0] for line in script.splitlines()
            if line.strip() and not line.startswith("--") and line.rstrip().endswith(";")]
    after = None if ctx.database is None else run_script(script, ctx.database)
    return ExecResult(0, "".join(f"{tag}\n" for tag in tags), "", database=after)


_COMMENT_ON = re.compile(r"^\s*COMMENT ON DATABASE \S+ IS '((?:[^']|'')*)'", re.IGNORECASE)


def _psql_command(ctx: ExecContext, sql: str) -> ExecResult:
    """psql -c: `COMMENT ON DATABASE d IS '...'` sets the database's comment; a query that reads it with
    shobj_description answers `<comment>|<number of tables>` (what stack/host_copy.py asks)."""
    if match := _COMMENT_ON.match(sql):
        return ExecResult(0, "COMMENT\n", "", comment=match.group(1).replace("''", "'"))
    if "shobj_description" in sql:
        tables = len(ctx.database or {})
        return ExecResult(0, f"{ctx.comment or ''}|{tables}\n", "")
    return ExecResult(0, "", "")


def _tar(command: list[str]) -> ExecResult:
    """tar --create --file=PATH writes a small real archive at PATH (one file); extraction does nothing."""
    import io
    import tarfile

    target = _option(command, "-f", "--file")
    if "--create" not in command or target is None:
        return ExecResult(0, "", "")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        data = b"fake rag_storage index\n"
        info = tarfile.TarInfo("./index.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return ExecResult(0, "", "", files={target: buf.getvalue()})


def load_hook(path: str | None) -> ExecHook | None:
    if not path:
        return None
    spec = importlib.util.spec_from_file_location("fake_dagger_exec_hook", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"FAKE_DAGGER_EXEC_HOOK={path!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hook = getattr(module, "fake_exec", None)
    if not callable(hook):
        raise ValueError(f"FAKE_DAGGER_EXEC_HOOK={path!r}: defines no fake_exec(ctx) function")
    return hook  # type: ignore[no-any-return]


# What a long-running service prints when it starts, and then now and then while it runs.
def service_kind(image: str | None, command: list[str]) -> str:
    text = _joined(command)
    name = image_name(image or "")
    if name == "pgvector":          # pgvector/pgvector:pg16 is PostgreSQL with one more extension
        name = "postgres"
    for kind, needles in (("postgres", ("postgres",)), ("redis", ("redis",)), ("uvicorn", ("uvicorn",)),
                          ("vite", ("vite", "npm run dev", "npm run preview"))):
        if any(n in text for n in needles) or name == kind:
            return kind
    return "generic"


STARTUP_LINES: dict[str, list[str]] = {
    "postgres": ["PostgreSQL init process complete; ready for start up.",
                 "LOG:  listening on IPv4 address \"0.0.0.0\", port 5432",
                 "LOG:  database system is ready to accept connections"],
    "redis": ["Redis version=7.2.5, bits=64, commit=00000000, modified=0, pid=1, just started",
              "Server initialized", "Ready to accept connections tcp"],
    "uvicorn": ["INFO:     Started server process [1]", "INFO:     Waiting for application startup.",
                "INFO:     Application startup complete.",
                "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"],
    "vite": ["  VITE v5.4.8  ready in 412 ms", "  ➜  Local:   http://localhost:3000/",
             "  ➜  Network: http://10.87.0.5:3000/"],
    "generic": ["service started"],
}


def heartbeat_line(kind: str, n: int) -> str:
    if kind == "postgres":
        return f"LOG:  checkpoint complete: wrote {n % 50} buffers (0.{n % 10}%); tick {n}"
    if kind == "redis":
        return f"1:M DB saved on disk (tick {n})"
    if kind == "uvicorn":
        return f'INFO:     10.87.0.1:{40000 + n % 20000} - "GET /health HTTP/1.1" 200 OK'
    if kind == "vite":
        return f"[vite] page reload src/App.tsx (tick {n})"
    return f"service alive (tick {n})"

