"""Database backup and restore for a project: pg_dump and psql in a client container bound to the project's
PostgreSQL service, the dump file exported to (or uploaded from) the host.

Services live only in their Dagger session. While the app runs a stack, a backup runs in that stack's session
and binds the running PostgreSQL (the same service definition, so the engine attaches to the running one).
For a stopped project, a fresh session starts PostgreSQL alone on the project's cache volume, dumps or
restores, and closes. A restore first saves the database as it is, so nothing is lost by restoring the wrong
file. Dumps are plain SQL (`pg_dump --clean --if-exists`), private files (0600) in a 0700 folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cchub_desktop.os_errors import describe_os_error
from cchub_desktop.safe_names import UnsafeName, checked_slug
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.engine_env import ENVIRONMENT_GATE, describe_cli, locate_cli, session_environment
from cchub_desktop.stack.errors import StackError, map_error
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.stack.recipe import DB_NAME, DB_USER, SecretKey, StackRecipe, build_recipe, secret_values
from cchub_desktop.stack.runner_probe import check_runner

if TYPE_CHECKING:
    import dagger

    from cchub_desktop.paths import AppPaths
    from cchub_desktop.stack.secrets_store import ProjectSecrets
    from cchub_desktop.stack.stack import CommandCenterStack
    from cchub_desktop.store import Project, ProjectStatus

DUMP_DIR = "/backup"
DUMP_PATH = f"{DUMP_DIR}/commandcenter.sql"
RESTORE_PATH = "/restore/commandcenter.sql"
DUMP_HEADER = "-- PostgreSQL database dump"
HEADER_BYTES = 4096
STOP_TIMEOUT = 15.0
Progress = Callable[[str], None]
T = TypeVar("T")


# ----- files on the host ---------------------------------------------------------------------------------

def new_backup_path(backups_dir: Path, slug: str, label: str = "", now: datetime | None = None) -> Path:
    """A new file name in the backups folder: `<slug>-<YYYYmmdd-HHMMSS>[-label].sql`, never an existing one."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{checked_slug(slug)}-{stamp}" + (f"-{label}" if label else "")
    candidate, n = backups_dir / f"{base}.sql", 2
    while candidate.exists():
        candidate, n = backups_dir / f"{base}-{n}.sql", n + 1
    return candidate


def list_backups(backups_dir: Path, slug: str) -> list[Path]:
    """The project's dumps in the backups folder, newest first."""
    found = [p for p in backups_dir.glob(f"{checked_slug(slug)}-*.sql") if p.is_file() and _stamp_follows(p.name, slug)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _stamp_follows(name: str, slug: str) -> bool:
    rest = name[len(slug) + 1:]
    return len(rest) >= 15 and rest[:8].isdigit() and rest[8] == "-" and rest[9:15].isdigit()


def check_restore_file(path: Path) -> Path:
    """The absolute path of a readable plain-SQL dump made by pg_dump; StackError saying what is wrong."""
    source = Path(path).expanduser()
    if not source.is_absolute():
        source = Path.cwd() / source
    if not source.exists():
        raise StackError(f"The backup file {source} does not exist.", step="restore")
    if not source.is_file():
        raise StackError(f"{source} is not a file; give the .sql file `cchub backup` wrote.", step="restore")
    try:
        with source.open("rb") as fh:
            head = fh.read(HEADER_BYTES).decode("utf-8", errors="replace")
    except OSError as exc:
        raise StackError(f"The backup file {source} cannot be read: {exc.strerror}. Check its permissions.",
                         detail=repr(exc), step="restore") from exc
    if DUMP_HEADER not in head:
        raise StackError(f"{source} is not a database backup (a plain SQL dump made by `cchub backup` or "
                         "pg_dump). Nothing was changed.", step="restore")
    return source


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform != "win32":
        os.chmod(folder, 0o700)


# ----- in a session --------------------------------------------------------------------------------------

def _postgres_client(client: dagger.Client, recipe: StackRecipe, values: dict[SecretKey, str],
                     stamp: str, client_image: str | None = None) -> dagger.Container:
    """A container with the PostgreSQL client tools (of `client_image`, else of the server's own image),
    bound to the project's PostgreSQL as `postgres`, with the password as a secret. `stamp` makes each run a
    new command (Dagger would reuse a cached result)."""
    from cchub_desktop.stack.dagger_graph import build_graph

    postgres = build_graph(client, recipe, values).services["postgres"]  # the stack's own definition
    spec = recipe.service("postgres")
    (password,) = [s for s in spec.secrets if s.key == "db_password"]
    return (client.container().from_(client_image or spec.image)
            .with_secret_variable("PGPASSWORD", client.set_secret(password.name, values["db_password"]))
            .with_service_binding("postgres", postgres)
            .with_env_variable("CCHUB_RUN_AT", stamp))


def _connection_args() -> list[str]:
    return ["--host=postgres", f"--username={DB_USER}", f"--dbname={DB_NAME}", "--no-password"]


async def dump_database(client: dagger.Client, recipe: StackRecipe, values: dict[SecretKey, str],
                        dest: Path) -> Path:
    """pg_dump the project's database into `dest` on the host (written under a temporary name first, then
    0600). Dagger errors are raised as they come."""
    stamp = datetime.now().isoformat()
    # pg_dump does not make the folder of its --file, and images have no /backup: the real engine fails
    # with "could not open output file" unless the folder is made first.
    dumped = _postgres_client(client, recipe, values, stamp).with_directory(DUMP_DIR, client.directory()).with_exec(
        ["pg_dump", *_connection_args(), "--clean", "--if-exists", "--no-owner", "--no-privileges",
         f"--file={DUMP_PATH}"])
    _private_folder(dest.parent)
    partial = dest.with_name(f".{dest.name}.part")
    try:
        await dumped.file(DUMP_PATH).export(str(partial))
        if sys.platform != "win32":
            os.chmod(partial, 0o600)
        with partial.open("rb") as fh:
            head = fh.read(HEADER_BYTES).decode("utf-8", errors="replace")
        if DUMP_HEADER not in head:
            raise StackError("pg_dump did not write a complete dump, so no backup was kept. The log has the "
                             "engine's output.", detail=f"unexpected start: {head[:200]!r}", step="backup")
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return dest


async def load_database(client: dagger.Client, recipe: StackRecipe, values: dict[SecretKey, str],
                        source: Path, client_image: str | None = None) -> None:
    """Run a plain-SQL dump against the project's database with psql (of `client_image`, else of the
    server's image), in one transaction (all or nothing)."""
    stamp = datetime.now().isoformat()
    loaded = (_postgres_client(client, recipe, values, stamp, client_image)
              .with_file(RESTORE_PATH, client.host().file(str(source), no_cache=True))
              .with_exec(["psql", *_connection_args(), "--set=ON_ERROR_STOP=1", "--single-transaction",
                          "--quiet", f"--file={RESTORE_PATH}"]))
    await loaded.sync()


@contextlib.asynccontextmanager
async def engine_session(settings: AppSettings, log: StackLog, secrets: tuple[str, ...]
                         ) -> AsyncIterator[dagger.Client]:
    """A Dagger session of its own (as a stack opens one), closed on the way out."""
    choice = await asyncio.to_thread(locate_cli, settings)
    dagger_sdk = await asyncio.to_thread(importlib.import_module, "dagger")
    log.add_secrets(secrets)
    log.note(f"[hub] Dagger CLI: {describe_cli(choice)}")
    await asyncio.to_thread(check_runner, settings)  # a dead runner would make the CLI wait for ever
    conn = dagger_sdk.Connection(dagger_sdk.Config(log_output=log, retry=None))
    cursor = log.lines()[0]
    try:
        async with ENVIRONMENT_GATE.applied(session_environment(settings, choice)):
            client = await conn.__aenter__()
    except Exception as exc:
        output = await _engine_output_since(log, cursor) if isinstance(exc, dagger_sdk.ProvisionError) else ""
        raise map_error(exc, "engine", "connecting to the Dagger engine", secret_values=secrets,
                        engine_output=output) from exc
    try:
        yield client
    finally:
        close = asyncio.ensure_future(conn.close())
        try:
            await asyncio.shield(close)
        except asyncio.CancelledError:
            await close
            raise
        except Exception as exc:
            log.note(f"[hub] closing the Dagger session: {type(exc).__name__}: {exc}")


async def _engine_output_since(log: StackLog, cursor: int, wait: float = 1.0) -> str:
    """What the CLI printed since `cursor` (the SDK forwards it from a thread: a CLI that exited at once may
    still be on its way into the log, and its reason is often only there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        lines = [x.text for x in log.lines(cursor)[1] if x.service != "hub"]
        if lines or loop.time() >= deadline:
            return "\n".join(lines)
        await asyncio.sleep(0.02)


class DatabaseJob:
    """Backup or restore of one project's database, in a running stack's session or in a fresh one."""

    def __init__(self, config: CommandCenterConfig, settings: AppSettings, log: StackLog,
                 progress: Progress | None = None) -> None:
        self.config = config
        self.settings = settings
        self.log = log
        self.recipe = build_recipe(config)
        self.values = secret_values(config)
        self.secrets = tuple(self.values.values())
        self._progress = progress

    def say(self, text: str) -> None:
        self.log.note(f"[hub] {self.config.name}: {text}")
        if self._progress is not None:
            self._progress(text)

    async def run_step(self, doing: str, step: str, work: Awaitable[T]) -> T:
        """Await `work`, turning a Dagger error into a StackError about `doing`."""
        self.say(doing)
        try:
            return await work
        except (StackError, asyncio.CancelledError):
            raise
        except Exception as exc:
            error = map_error(exc, step, doing, secret_values=self.secrets)
            self.log.note(f"[hub] failed while {doing}: {error.detail}")
            error.logged = True
            raise error from exc

    async def backup_in_session(self, client: dagger.Client, dest: Path) -> Path:
        """Dump through an open session (the running stack's)."""
        await self.run_step("backing up the database", "backup", dump_database(client, self.recipe, self.values, dest))
        try:
            copy = write_secrets_copy(dest, self.config.secrets)
        except OSError as exc:   # a dump without its passwords cannot be restored: keep neither
            with contextlib.suppress(OSError):
                dest.unlink()
            raise StackError(f"The backup was not kept: its passwords could not be saved ({describe_os_error(exc)})",
                             detail=str(exc), step="backup") from exc
        self.say(f"database saved to {dest} (its passwords, which a restore needs, in {copy.name})")
        return dest

    async def backup(self, dest: Path) -> Path:
        """Dump a stopped project's database: PostgreSQL alone on its volume, in a session of its own."""
        async with self.postgres_session() as client:
            return await self.backup_in_session(client, dest)

    async def restore(self, source: Path, safety_dest: Path) -> Path:
        """Replace a stopped project's database with `source`, after saving the current one to
        `safety_dest` (returned)."""
        source = check_restore_file(source)
        async with self.postgres_session() as client:
            await self.run_step("saving the current database before restoring", "backup",
                            dump_database(client, self.recipe, self.values, safety_dest))
            self.say(f"the database as it was is saved in {safety_dest}")
            await self.run_step(f"restoring the database from {source.name}", "restore",
                            load_database(client, self.recipe, self.values, source))
        self.say(f"database restored from {source}")
        return safety_dest

    @contextlib.asynccontextmanager
    async def postgres_session(self, prepare: Callable[[dagger.Client], Awaitable[object]] | None = None
                               ) -> AsyncIterator[dagger.Client]:
        """A session of its own with the project's PostgreSQL started on its volume (stopped on the way
        out); `prepare` runs in the session before PostgreSQL starts."""
        from cchub_desktop.stack.dagger_graph import build_graph

        self.say("connecting to the Dagger engine")
        async with engine_session(self.settings, self.log, self.secrets) as client:
            if prepare is not None:
                await prepare(client)
            postgres = build_graph(client, self.recipe, self.values).services["postgres"]
            await self.run_step("starting PostgreSQL on the project's data volume", "postgres", postgres.start())
            try:
                yield client
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(postgres.stop(), STOP_TIMEOUT)


def secrets_copy_of(dump: Path) -> Path:
    """Where a backup keeps the passwords its database was made with: next to the dump."""
    return dump.with_name(dump.stem + ".secrets.json")


def write_secrets_copy(dump: Path, secrets: ProjectSecrets) -> Path:
    """Save the project's secrets next to its dump (0600), in the secrets file's own format: copying it back
    to the secrets folder is what a lost secrets file needs (stack/secrets_store.py says so)."""
    import json

    from cchub_desktop.atomic_files import write_private
    from cchub_desktop.stack.secrets_store import FILE_VERSION, SECRET_FIELDS

    path = secrets_copy_of(dump)
    text = json.dumps({"version": FILE_VERSION, **{name: getattr(secrets, name) for name in SECRET_FIELDS}})
    write_private(path, text.encode("utf-8"))   # whole or not at all: never a 0-byte copy next to a dump
    return path


async def backup_project(project: Project, status: ProjectStatus, stack: CommandCenterStack | None,
                         settings: AppSettings, paths: AppPaths, log: StackLog,
                         secrets: ProjectSecrets | None = None) -> Path:
    """The app's backup of one project (Orchestrator.backup): in the running stack's session when it runs,
    else in a session of its own. Refused while the project starts or stops."""
    if status.value in ("starting", "stopping"):
        raise StackError(f"{project.name} is {status.value}; back it up once it runs or has stopped.",
                         step="backup")
    try:
        dest = new_backup_path(paths.backups_dir, project.slug)
    except UnsafeName as exc:
        raise StackError(str(exc), step="backup") from None
    if status.value == "running" and stack is not None:
        return await stack.backup_database(dest)
    config = CommandCenterConfig.from_project(project, settings, paths, secrets)
    return await DatabaseJob(config, settings, log).backup(dest)
