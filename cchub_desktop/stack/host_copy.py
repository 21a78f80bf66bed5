"""The engine side of the host copy (host_copies.py has the files): copy a project's data out of its volumes,
recognise a volume the engine discarded, and restore the copy into it.

The database carries a marker, `COMMENT ON DATABASE commandcenter IS 'cchub-data:<data key>:<generation>'`,
written at the first start and after every copy. A start (PostgreSQL up, before the backend runs its
migrations) reads it: the project's own marker means its own database; no marker and no tables means a fresh
volume (new, pruned by the engine's garbage collection or `local-cache prune`, a reset engine, another
engine): with a host copy the copy is restored, else (a brand-new project) the database starts empty as
before. A database that has tables but not this project's marker is never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cchub_desktop import host_copies
from cchub_desktop.host_copies import CopyStatus, HostCopy, NewCopy
from cchub_desktop.stack.errors import StackError, map_error
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.stack.recipe import DB_NAME, CacheMount, SecretKey, StackRecipe

if TYPE_CHECKING:
    import dagger

    from cchub_desktop.paths import AppPaths
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack.config import CommandCenterConfig
    from cchub_desktop.store import Project, ProjectStore

MARKER_PREFIX = "cchub-data"
RAG_PATH = "/app/rag_storage"
RAG_ARCHIVE = "/tmp/cchub-rag_storage.tar.gz"
STOP_COPY_TIMEOUT = 120.0   # how long a stop waits for its copy
MARKER_QUERY = ("SELECT coalesce(shobj_description(d.oid, 'pg_database'), '') || '|' || "
                "(SELECT count(*) FROM pg_catalog.pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) "
                "FROM pg_database d WHERE d.datname = current_database()")


def marker_text(data_key: str, generation: int) -> str:
    return f"{MARKER_PREFIX}:{data_key}:{generation}"


def parse_marker(comment: str) -> tuple[str, int] | None:
    parts = comment.strip().split(":")
    if len(parts) != 3 or parts[0] != MARKER_PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def rag_storage_mount(recipe: StackRecipe) -> CacheMount | None:
    """The one place that knows where the backend's rag_storage lives: the project's cache volume mounted at
    /app/rag_storage, when the recipe has one."""
    for spec in recipe.services:
        for cache in spec.caches:
            if cache.path.rstrip("/") == RAG_PATH:
                return cache
    return None


@dataclass(frozen=True)
class VolumeState:
    marker: tuple[str, int] | None
    tables: int

    def ours(self, data_key: str) -> bool:
        return self.marker is not None and self.marker[0] == data_key

    @property
    def fresh(self) -> bool:
        return self.marker is None and self.tables == 0


class HostCopier:
    """Copies and restores one project's data through an open session whose PostgreSQL runs."""

    def __init__(self, config: CommandCenterConfig, recipe: StackRecipe, values: dict[SecretKey, str],
                 log: StackLog, folder: Path, interval_s: float) -> None:
        self.config = config
        self.recipe = recipe
        self.values = values
        self.log = log
        self.folder = folder
        self.interval_s = interval_s
        self._lock = asyncio.Lock()
        self._tick = asyncio.Event()
        self._periodic: asyncio.Task[None] | None = None
        self.verified = False   # the database is the project's own (checked or restored at this start)
        self._client_base: tuple[dagger.Client, dagger.Container] | None = None

    @property
    def busy(self) -> asyncio.Lock:
        """Held while a copy is taken; a service restart holds it so that no copy runs meanwhile."""
        return self._lock

    def say(self, text: str) -> None:
        self.log.note(f"[hub] {self.config.name}: {text}")

    # ----- the marker -------------------------------------------------------------------------------------

    def _psql(self, client: dagger.Client, sql: str) -> dagger.Container:
        """psql running `sql`, in a client container made once per session (each of its arguments that is an
        object costs a round trip), a new stamp per command (never a cached result)."""
        from cchub_desktop.stack.backup import _connection_args, _postgres_client

        if self._client_base is None or self._client_base[0] is not client:
            self._client_base = (client, _postgres_client(client, self.recipe, self.values, "host-copy"))
        stamp = f"{datetime.now().isoformat()}-{time.monotonic_ns()}"
        return self._client_base[1].with_env_variable("CCHUB_RUN_AT", stamp).with_exec(
            ["psql", *_connection_args(), "--tuples-only", "--no-align", f"--command={sql}"])

    async def read_state(self, client: dagger.Client) -> VolumeState:
        out = (await self._psql(client, MARKER_QUERY).stdout()).strip()
        comment, _, count = out.rpartition("|")
        return VolumeState(parse_marker(comment), int(count) if count.strip().isdigit() else 0)

    async def write_marker(self, client: dagger.Client, generation: int) -> None:
        text = marker_text(self.config.data_key, generation)
        await self._psql(client, f"COMMENT ON DATABASE {DB_NAME} IS '{text}'").sync()

    # ----- at start ---------------------------------------------------------------------------------------

    async def check_volume(self, client: dagger.Client) -> None:
        """Before the migrations: restore the newest copy into a fresh volume, and mark the database. Raises
        StackError when a copy exists but cannot be restored (nothing starts on an empty database then)."""
        try:
            state = await self.read_state(client)
        except Exception as exc:
            raise self._error(exc, "reading the database's marker") from exc
        if state.ours(self.config.data_key):
            self.verified = True
            return
        last = await asyncio.to_thread(host_copies.newest_copy, self.folder)
        if not state.fresh or last is None:
            if not state.fresh:
                self.say(f"the database has {state.tables} table(s) but not this project's marker: it is kept as "
                         "it is and marked as this project's" + (f" (the host copies stay in {self.folder})"
                                                                  if last is not None else ""))
            await self._mark(client, last.number if last is not None else 0)
            return
        self.say(f"the database volume is new and empty, and a host copy exists: restoring {last.describe()} "
                 "before the migrations")
        try:
            await self._restore(client, last)
        except Exception as exc:
            raise StackError(f"The engine had discarded {self.config.name}'s database and restoring the copy of "
                             f"{last.taken_at:%H:%M} ({last.describe()}) failed, so the project was not started on "
                             f"an empty database. The copies are in {self.folder}; the log has the details.",
                             detail=f"{type(exc).__name__}: {exc}", step="restore") from exc
        self.verified = True
        self.say(f"the engine had discarded this project's database; restored the copy of "
                 f"{last.taken_at:%H:%M} ({last.describe()})")

    async def _mark(self, client: dagger.Client, generation: int) -> None:
        try:
            await self.write_marker(client, generation)
        except Exception as exc:
            raise self._error(exc, "marking the database as this project's") from exc
        self.verified = True

    async def _restore(self, client: dagger.Client, copy: HostCopy) -> None:
        from cchub_desktop.stack.backup import load_database

        await load_database(client, self.recipe, self.values, copy.dump)
        mount = rag_storage_mount(self.recipe)
        if copy.rag is not None and mount is not None:
            await self._rag_container(client, mount).with_file(
                RAG_ARCHIVE, client.host().file(str(copy.rag), no_cache=True)).with_exec(
                ["tar", "--extract", "--gzip", f"--file={RAG_ARCHIVE}", f"--directory={RAG_PATH}"]).sync()
        await self.write_marker(client, copy.number)

    def _error(self, exc: BaseException, doing: str) -> StackError:
        if isinstance(exc, StackError):
            return exc
        return map_error(exc, "postgres", doing, secret_values=tuple(self.values.values()))

    # ----- copies ------------------------------------------------------------------------------------------

    def _rag_container(self, client: dagger.Client, mount: CacheMount) -> dagger.Container:
        import dagger as sdk

        return (client.container().from_(self.config.images.python)
                .with_env_variable("CCHUB_RUN_AT", f"{time.time_ns()}")
                .with_mounted_cache(RAG_PATH, client.cache_volume(mount.volume),
                                    sharing=sdk.CacheSharingMode[mount.sharing], owner=mount.owner))

    async def take(self, client: dagger.Client, reason: str) -> HostCopy | None:
        """Write a new copy (dump, rag_storage archive) and mark the database with its number; None when it
        failed (said in the log and in status.json; the older copies are kept)."""
        from cchub_desktop.stack.backup import dump_database

        async with self._lock:
            if not self.verified:
                self.say("no copy: this start did not check the database's marker")
                return None
            began = time.monotonic()
            new = await asyncio.to_thread(NewCopy, self.folder, reason)
            try:
                await dump_database(client, self.recipe, self.values, new.dump_temp)
                mount = rag_storage_mount(self.recipe)
                if mount is not None:
                    archived = self._rag_container(client, mount).with_exec(
                        ["tar", "--create", "--gzip", f"--file={RAG_ARCHIVE}", f"--directory={RAG_PATH}", "."])
                    await archived.file(RAG_ARCHIVE).export(str(new.rag_temp))
                copy = await asyncio.to_thread(new.commit)
                await self.write_marker(client, copy.number)
            except Exception as exc:
                new.discard()
                message = self._error(exc, "copying the data to the host").user_message
                kept = len(await asyncio.to_thread(host_copies.list_copies, self.folder))
                await asyncio.to_thread(host_copies.write_status, self.folder,
                                        CopyStatus(False, datetime.now().astimezone(), message))
                self.say(f"the {reason} copy of the data failed: {message} The {kept} older copie(s) are kept "
                         f"in {self.folder}.")
                return None
            except BaseException:
                new.discard()
                raise
            await asyncio.to_thread(host_copies.write_status, self.folder,
                                    CopyStatus(True, copy.taken_at, "saved", copy.number))
            rag = ", rag_storage included" if copy.rag is not None else ""
            self.say(f"saved copy {copy.number} of the data ({reason}{rag}): "
                     f"{host_copies.human_size(copy.size)} in {time.monotonic() - began:.1f} s")
            return copy

    # ----- periodic and at stop ---------------------------------------------------------------------------

    def start_periodic(self, client: dagger.Client, spawn: Callable[[Any], asyncio.Task[Any]]) -> None:
        if self._periodic is None:
            self._periodic = spawn(self._every_interval(client))

    def tick(self) -> None:
        """Take the periodic copy now (as if the interval had passed)."""
        self._tick.set()

    async def _every_interval(self, client: dagger.Client) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), self.interval_s)
            self._tick.clear()
            await self.take(client, "periodic")

    async def stop_periodic(self) -> None:
        task, self._periodic = self._periodic, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def at_stop(self, client: dagger.Client | None, why_not: str | None,
                      timeout: float | None = None) -> None:
        """The copy a stop waits for (at most `timeout`); none when `why_not` says why not (the stack never
        became healthy, its session ended)."""
        await self.stop_periodic()
        if client is None or why_not is not None or not self.verified:
            kept = await asyncio.to_thread(host_copies.list_copies, self.folder)
            self.say(f"no copy of the data at this stop: {why_not or 'its database was not checked'}"
                     + (" (the earlier copies are kept)" if kept else ""))
            return
        timeout = STOP_COPY_TIMEOUT if timeout is None else timeout
        self.say(f"saving a copy of the data before stopping (waiting up to {timeout:.0f} s)")
        try:
            await asyncio.wait_for(self.take(client, "stop"), timeout)
        except TimeoutError:
            message = f"the copy at stop did not finish within {timeout:.0f} s"
            await asyncio.to_thread(host_copies.write_status, self.folder,
                                    CopyStatus(False, datetime.now().astimezone(), message))
            self.say(f"{message}; stopping without it (the older copies are kept in {self.folder})")


async def offline_copy(config: CommandCenterConfig, settings: AppSettings, log: StackLog, folder: Path,
                       reason: str) -> HostCopy | None:
    """A copy of a stopped project before a risky job (reset-db): PostgreSQL alone in a
    session of its own. Only a database that carries the project's marker is copied (a discarded volume must
    not become the newest copy). None when no copy was made (said in the log)."""
    from cchub_desktop.stack.backup import DatabaseJob
    from cchub_desktop.stack.recipe import build_recipe, secret_values

    job = DatabaseJob(config, settings, log)
    copier = HostCopier(config, build_recipe(config), secret_values(config), log, folder, 0.0)
    try:
        async with job.postgres_session() as client:
            state = await copier.read_state(client)
            if not state.ours(config.data_key):
                copier.say(f"no copy before {reason}: the database does not carry this project's marker")
                return None
            copier.verified = True
            return await copier.take(client, f"before {reason}")
    except Exception as exc:   # the job goes on without it; the earlier copies are kept
        copier.say(f"no copy before {reason}: {copier._error(exc, 'reading the database').user_message}")
        return None


async def copy_before_job(store: ProjectStore, project: Project, settings: AppSettings, paths: AppPaths,
                          log: StackLog, job: str) -> str:
    """A host copy of a stopped project's data before `job` (reset-db), with its lease held by the
    caller: what it is ("copy N, SIZE"), or "" when none could be made (the log says why; the job goes on,
    the earlier copies are kept)."""
    from cchub_desktop.stack.config import CommandCenterConfig
    from cchub_desktop.stack.project_secrets import checked_secrets

    try:
        secrets = await asyncio.to_thread(checked_secrets, store, project, paths)
        config = CommandCenterConfig.from_project(project, settings, paths, secrets)
    except StackError as exc:
        log.note(f"[hub] {project.name}: no copy before {job}: {exc.user_message}")
        return ""
    folder = host_copies.copies_dir(paths.data_dir, project.data_key)
    copy = await offline_copy(config, settings, log, folder, job)
    return copy.describe() if copy is not None else ""
