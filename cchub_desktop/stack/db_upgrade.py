"""Upgrading a stopped project's PostgreSQL to a newer major version (`cchub upgrade-db`, the window's
Upgrade database… action). No Qt.

A data folder only opens with the major that created it, so an upgrade copies the data instead of opening
it with the new server:

1. dump with the OLD server: the recorded image on the recorded volume, into a kept file in the backups
   folder (`<slug>-<stamp>-before-upgrade-pg<N>.sql`);
2. in a new session: empty the NEW volume (`cchub-<data key>-pgdata-pg<N>`: a fresh name, so the old volume is
   never opened by the new server), start the new image on it (it initialises the data folder), load the
   dump with psql in one transaction (ON_ERROR_STOP; the OLD image's psql, which reads what its pg_dump
   wrote), then dump the new database again and compare its tables and their row counts with the first dump;
3. record, in one store transaction, the new image, major and volume for the project, and the old volume
   in retired_data (kept until the user deletes it: `cchub upgrade-db NAME --delete-old`).

Any failure before 3 leaves the project on its old image and old volume, untouched; the new volume is
emptied again (and emptied first by the next attempt, should that fail too). The new volume's name is
recorded in the store (Project.db_volume) rather than derived from the major: a project created on
PostgreSQL 16 keeps cchub-<key>-pgdata, one upgraded to 16 uses cchub-<key>-pgdata-pg16, and only the
record tells them apart.

The pgvector extension: a dump of a postgres:15-alpine database has no `CREATE EXTENSION vector` (that
image never had it); the backend's migration enables it in the new database at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop.safe_names import checked_slug
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.backup import DatabaseJob, dump_database, load_database, new_backup_path
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.db_image import image_major, pgdata_volume
from cchub_desktop.stack.errors import StackError
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.stack.project_secrets import checked_secrets
from cchub_desktop.stack.volume_wipe import empty_volume

if TYPE_CHECKING:
    import dagger

    from cchub_desktop.paths import AppPaths
    from cchub_desktop.store import Project, ProjectStore
    from cchub_desktop.store.rows import StoredProject

Progress = Callable[[str], None]
ACTIVE_STATUSES = ("starting", "running", "stopping")
_CREATE = re.compile(r"^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?(\S+) \(")
_COPY = re.compile(r"^COPY (\S+) .*FROM stdin;$")


class NothingToUpgrade(StackError):
    """The project's database already runs on the target major (or has not been created yet)."""


@dataclass(frozen=True)
class UpgradePlan:
    name: str
    old_image: str
    old_major: int
    old_volume: str
    new_image: str
    new_major: int
    new_volume: str

    def describe(self) -> str:
        """What the upgrade will do, for the confirmation (window) and the first line (CLI)."""
        return (f"The database of '{self.name}' is copied from PostgreSQL {self.old_major} ({self.old_image}, "
                f"volume {self.old_volume}) to PostgreSQL {self.new_major} ({self.new_image}, a new volume "
                f"{self.new_volume}): dumped with the old server into the backups folder, restored into the new "
                "one and checked (tables and row counts). The project then uses the new database; the old "
                "volume is kept, unchanged, until you delete it.")


@dataclass(frozen=True)
class UpgradeResult:
    plan: UpgradePlan
    dump: Path
    tables: int
    rows: int
    vector_in_dump: bool = False   # the old database had pgvector (its dump creates the extension)

    def summary(self) -> str:
        p = self.plan
        vector = ("" if self.vector_in_dump else " The pgvector extension is not in the old database: the "
                  "backend's migrations create it at the next start.")
        return (f"Upgraded the database of '{p.name}' from PostgreSQL {p.old_major} to PostgreSQL {p.new_major} "
                f"({p.new_image}): {self.tables} tables, {self.rows} rows copied into volume {p.new_volume}, "
                f"which the project uses from now on. The old database is kept, unchanged, in the engine's cache "
                f"volume {p.old_volume}, and its dump in {self.dump}; once the project runs well, delete the old "
                f"volume with `cchub upgrade-db {_quoted(p.name)} --delete-old`.{vector}")


def _quoted(name: str) -> str:
    import shlex

    return shlex.quote(name)


def plan_upgrade(project: StoredProject, status: str, target_image: str) -> UpgradePlan:
    """What upgrading `project` to `target_image` means; StackError (NothingToUpgrade when there is
    nothing to do) saying why not."""
    name = project.name
    if status in ACTIVE_STATUSES:
        raise StackError(f"'{name}' is {status}: stop it first, then upgrade its database (its data volume is "
                         "in use while it runs).", step="upgrade")
    new_major = image_major(target_image)
    if new_major is None:
        raise StackError(f"The PostgreSQL version of the image {target_image} cannot be read from its tag. Give "
                         "an image with the major version in its tag, e.g. pgvector/pgvector:pg16.", step="upgrade")
    if not project.db_image:
        raise NothingToUpgrade(f"'{name}' has no database yet: its first start creates one with the image in "
                               "Settings. Nothing to upgrade.", step="upgrade")
    old_major = project.db_major if project.db_major is not None else image_major(project.db_image)
    if old_major is None:
        raise StackError(f"The PostgreSQL version of the database image of '{name}' ({project.db_image}) is "
                         "not recorded and cannot be read from its tag, so it cannot be upgraded safely.",
                         step="upgrade")
    if new_major == old_major:
        raise NothingToUpgrade(f"'{name}' already runs PostgreSQL {old_major} ({project.db_image}); nothing to "
                               "upgrade.", step="upgrade")
    if new_major < old_major:
        raise StackError(f"The database of '{name}' is PostgreSQL {old_major} ({project.db_image}), newer than "
                         f"{target_image} (PostgreSQL {new_major}): a database cannot be moved to an older major "
                         "version. Nothing was changed.", step="upgrade")
    old_volume = project.db_volume or pgdata_volume(project.data_key)
    return UpgradePlan(name, project.db_image, old_major, old_volume, target_image, new_major,
                       pgdata_volume(project.data_key, new_major))


def dump_inventory(lines: Iterable[str]) -> dict[str, int]:
    """The tables of a plain-SQL dump and their row counts (lines of their COPY block), read line by line
    (a dump can be larger than memory)."""
    tables: dict[str, int] = {}
    current: str | None = None
    rows = 0
    for line in lines:
        if current is not None:   # inside a COPY block: one line per row, up to the end marker
            if line == "\\.\n" or line == "\\.":
                tables[current] = tables.get(current, 0) + rows
                current, rows = None, 0
            else:
                rows += 1
            continue
        line = line.rstrip("\n")
        if line.startswith("CREATE ") and (match := _CREATE.match(line)):
            tables.setdefault(match.group(1), 0)
        elif line.startswith("COPY ") and (match := _COPY.match(line)):
            current = match.group(1)
            tables.setdefault(current, 0)
    return tables


def file_inventory(path: Path) -> dict[str, int]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        return dump_inventory(fh)


_CREATE_VECTOR = re.compile(r'^CREATE EXTENSION (?:IF NOT EXISTS )?"?vector"?[ ;]', re.IGNORECASE)


def dump_has_vector(path: Path) -> bool:
    """Whether a plain dump creates the pgvector extension (pg_dump writes `CREATE EXTENSION IF NOT EXISTS
    vector WITH SCHEMA public;` for a database that has it)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        return any(_CREATE_VECTOR.match(line) for line in fh)


def compare_inventories(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """What differs between the old database's dump and the new one's, one phrase each."""
    problems = [f"table {t} is missing" for t in sorted(set(before) - set(after))]
    problems += [f"table {t} has {after[t]} rows instead of {n}" for t, n in sorted(before.items())
                 if t in after and after[t] != n]
    return problems


class DatabaseUpgrade:
    """One upgrade of one stopped project; run() does it all or leaves the project as it was."""

    def __init__(self, store: ProjectStore, project: Project, plan: UpgradePlan, settings: AppSettings,
                 paths: AppPaths, log: StackLog, progress: Progress | None = None) -> None:
        self.store = store
        self.project = project
        self.plan = plan
        self.settings = settings
        self.paths = paths
        self.log = log
        self._progress = progress
        # the secrets checked against the store (a replaced secrets file would not open the old database)
        self.old_config = CommandCenterConfig.from_project(project, settings, paths,
                                                           checked_secrets(store, project, paths))
        self.new_config = dataclasses.replace(
            self.old_config, images=dataclasses.replace(self.old_config.images, postgres=plan.new_image),
            db_volume=plan.new_volume, db_image=None)

    def _job(self, config: CommandCenterConfig) -> DatabaseJob:
        return DatabaseJob(config, self.settings, self.log, progress=self._progress)

    async def run(self) -> UpgradeResult:
        plan = self.plan
        if self.old_config.pgdata_volume != plan.old_volume or plan.new_volume == plan.old_volume:
            raise StackError(f"The database volumes of '{plan.name}' do not match the upgrade plan; nothing was "
                             "changed.", step="upgrade")
        old_job = self._job(self.old_config)
        old_job.say(f"upgrading the database from PostgreSQL {plan.old_major} ({plan.old_image}, volume "
                    f"{plan.old_volume}) to PostgreSQL {plan.new_major} ({plan.new_image}, volume {plan.new_volume})")
        dump = new_backup_path(self.paths.backups_dir, self.project.slug, f"before-upgrade-pg{plan.new_major}")
        try:
            await old_job.backup(dump)
        except StackError as exc:
            stopped = StackError(f"The upgrade of '{plan.name}' stopped at the dump with PostgreSQL {plan.old_major}: "
                                 f"{exc.user_message} Nothing was changed: the project still uses {plan.old_image} "
                                 f"and its database in volume {plan.old_volume}.", detail=exc.detail,
                                 step="upgrade")
            stopped.logged = exc.logged
            raise stopped from exc
        before = await asyncio.to_thread(file_inventory, dump)
        try:
            await self._restore_and_check(dump, before)
            project = await asyncio.to_thread(
                self.store.record_db_upgrade, self.project.id or 0, old_image=plan.old_image,
                old_volume=plan.old_volume, new_image=plan.new_image, new_major=plan.new_major,
                new_volume=plan.new_volume)
        except asyncio.CancelledError:
            # the app is quitting: nothing was recorded, so the project keeps its old database; the next
            # attempt empties the new volume first
            raise
        except Exception as exc:
            error = exc if isinstance(exc, StackError) else StackError(
                f"Recording the upgrade failed: {exc}.", detail=repr(exc), step="upgrade")
            cleanup = await self._empty_new_volume()
            failed = StackError(
                f"The upgrade of '{plan.name}' to PostgreSQL {plan.new_major} failed: {error.user_message} "
                f"Nothing was changed: the project still uses {plan.old_image} and its database in volume "
                f"{plan.old_volume}; the dump is kept in {dump}. {cleanup}Fix the cause"
                + (" (the log has the details)" if error.logged else "")
                + ", then run the upgrade again.", detail=error.detail, step="upgrade")
            failed.logged = error.logged
            raise failed from exc
        self.project = project
        result = UpgradeResult(plan, dump, len(before), sum(before.values()),
                               await asyncio.to_thread(dump_has_vector, dump))
        old_job.say(result.summary())
        return result

    async def _restore_and_check(self, dump: Path, before: dict[str, int]) -> None:

        plan, config = self.plan, self.new_config
        job = self._job(config)
        check = self.paths.backups_dir / f".{checked_slug(self.project.slug)}-upgrade-check.sql"

        async def empty_first(client: dagger.Client) -> None:
            await empty_volume(client, config, plan.new_volume, self.log)  # what a failed attempt left

        try:
            async with job.postgres_session(prepare=empty_first) as client:
                # with the psql of the image whose pg_dump wrote the dump: pg_dump from the minors of 2025-08 on
                # (15.14, 16.10, ...) writes `\restrict`, which an older psql refuses, and the new image may be
                # of an older minor (seen on the real engine: a 15.20 dump, `invalid command \restrict` from
                # psql 16.2; dumping with the new image's pg_dump 16.2 instead wrote column options, pg_attver,
                # that the 16.2 server refused)
                await job.run_step(f"restoring the dump into PostgreSQL {plan.new_major}", "restore",
                                   load_database(client, job.recipe, job.values, dump, client_image=plan.old_image))
                await job.run_step("checking the restored database", "restore",
                                   dump_database(client, job.recipe, job.values, check))
            after = await asyncio.to_thread(file_inventory, check)
        finally:
            with contextlib.suppress(FileNotFoundError):
                check.unlink()
        problems = compare_inventories(before, after)
        if problems:
            raise StackError(f"The restored database does not match the dump: {'; '.join(problems)}.",
                             detail=f"before {before}\nafter {after}", step="restore")
        job.say(f"the restored database has the {len(before)} tables and {sum(before.values())} rows of the dump")

    async def _empty_new_volume(self) -> str:
        """Empty the new volume after a failure, in a session of its own; a sentence for the message."""
        from cchub_desktop.stack.backup import engine_session

        name = self.plan.new_volume
        try:
            async with engine_session(self.settings, self.log, tuple(self.new_config.secrets.values())) as client:
                await empty_volume(client, self.new_config, name, self.log)
        except StackError as exc:
            self.log.note(f"[hub] emptying the new volume {name} failed: {exc.detail or exc.user_message}")
            return (f"The new volume {name} could not be emptied ({exc.user_message}); the next upgrade "
                    "empties it first. ")
        return f"The new volume {name} was emptied. "


def retired_volumes_of(store: ProjectStore, project: Project) -> list[str]:
    """The database volumes earlier upgrades of this project left behind."""
    return list(retired_volume_images(store, project))


def retired_volume_images(store: ProjectStore, project: Project) -> dict[str, str | None]:
    """The database volumes earlier upgrades of this project left behind, each with the image that made it
    (its mount must come from that image to reach it: volume_wipe.empty_volume)."""
    mine = re.compile(re.escape(pgdata_volume(project.data_key)) + r"(?:-pg\d+)?")
    return {r.volume: r.db_image for r in store.retired_volumes() if r.volume and mine.fullmatch(r.volume)}


async def delete_retired_volumes(store: ProjectStore, project: Project, settings: AppSettings, paths: AppPaths,
                                 log: StackLog) -> list[str]:
    """Empty the old database volumes upgrades of this project kept, and forget them. StackError when the
    engine cannot do it (then nothing is forgotten)."""
    from cchub_desktop.stack.backup import engine_session

    images = retired_volume_images(store, project)
    names = list(images)
    current = project.db_volume or pgdata_volume(project.data_key)
    names = [n for n in names if n != current]
    if not names:
        return []
    config = CommandCenterConfig.from_project(project, settings, paths, checked_secrets(store, project, paths))
    async with engine_session(settings, log, tuple(config.secrets.values())) as client:
        for name in names:
            await empty_volume(client, config, name, log, image=images[name])
    await asyncio.to_thread(store.forget_retired_volumes, names)
    return names


async def run_upgrade(store: ProjectStore, project_id: int, status: str, image: str, settings: AppSettings,
                      paths: AppPaths, log: StackLog, progress: Progress | None = None) -> UpgradeResult:
    """Plan and run the upgrade of one project (the app's entry point). StackError saying why not."""
    project = await asyncio.to_thread(store.get, project_id)
    plan = plan_upgrade(project, status, image)
    return await DatabaseUpgrade(store, project, plan, settings, paths, log, progress).run()
