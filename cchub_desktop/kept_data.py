"""Data the app keeps for no listed project: what removed projects left (their engine volumes, passwords, host
copies and logs, kept so that a project added later may adopt them) and the old database volumes upgrades left
behind. Listed by `cchub kept-data` and the Storage tab; deleting one (`cchub kept-data --delete`, the tab's
Delete) empties its volumes through the engine, then deletes its files. No Qt and no Dagger here (the deletion
imports the stack when it runs, in a job process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cchub_desktop import host_copies
from cchub_desktop.paths import AppPaths
from cchub_desktop.safe_names import UnsafeName, checked_key

if TYPE_CHECKING:
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack.logs import StackLog
    from cchub_desktop.store import Project, ProjectStore
    from cchub_desktop.store.models import RetiredData

VOLUME_PREFIX = "volume:"
REMOVED = "removed project"
OLD_VOLUME = "old database volume"
OLD_VOLUME_NAME = re.compile(r"cchub-(?P<key>[A-Za-z0-9_-]+?)-pgdata(?:-pg\d+)?")


class KeptDataError(Exception):
    """A deletion that cannot go ahead (unknown or ambiguous choice, taken meanwhile), said in one line."""


@dataclass(frozen=True)
class KeptData:
    """One item of kept data. `key` names it for `cchub kept-data --delete`: a removed project's data key, or
    "volume:<name>" for an old database volume."""
    key: str
    kind: str
    name: str
    folder: str
    since: datetime
    db_image: str | None
    db_major: int | None
    volumes: tuple[str, ...]
    copies: int
    copies_bytes: int
    logs_bytes: int
    listed_owner: bool = False   # an old volume whose project is still listed

    def describe(self) -> str:
        """One line: what it is, whose, since when, what is in it."""
        image = f"PostgreSQL {self.db_major}" if self.db_major else (self.db_image or "database never started")
        if self.kind == OLD_VOLUME:
            whose = f"'{self.name}'" + ("" if self.listed_owner else " (removed)")
            return f"old database volume {self.volumes[0]} of {whose}, {image}, kept since {self.since:%Y-%m-%d %H:%M}"
        return f"'{self.name}', removed {self.since:%Y-%m-%d %H:%M}: " + self.contents()

    def contents(self) -> str:
        """What is kept, without whose or since when (the Storage tab shows those in columns of their own)."""
        image = f"PostgreSQL {self.db_major}" if self.db_major else (self.db_image or "database never started")
        if self.kind == OLD_VOLUME:
            return f"old database volume ({image})" + ("" if self.listed_owner else ", its project removed")
        copies = f"{self.copies} host cop{'y' if self.copies == 1 else 'ies'}"
        parts = [f"{len(self.volumes)} engine volumes ({image})",
                 f"{copies}, {host_copies.human_size(self.copies_bytes)}" if self.copies else "no host copy",
                 f"logs {host_copies.human_size(self.logs_bytes)}"]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "name": self.name, "folder": self.folder,
                "since": self.since.isoformat(timespec="seconds"), "db_image": self.db_image,
                "db_major": self.db_major, "volumes": list(self.volumes), "host_copies": self.copies,
                "host_copies_bytes": self.copies_bytes, "logs_bytes": self.logs_bytes,
                "description": self.describe()}


def removed_volumes(data_key: str, db_volume: str | None) -> tuple[str, ...]:
    """The engine volumes a removed project left: its database, Redis and rag_storage."""
    from cchub_desktop.stack.db_image import pgdata_volume
    from cchub_desktop.stack.upstream_fixes import rag_storage_volume

    return (db_volume or pgdata_volume(data_key), f"cchub-{data_key}-redis", rag_storage_volume(data_key))


def _item(row: RetiredData, paths: AppPaths, listed_keys: set[str]) -> KeptData | None:
    since = row.removed_at.astimezone() if row.removed_at.tzinfo is not None else row.removed_at
    if row.volume is not None:
        match = OLD_VOLUME_NAME.fullmatch(row.volume)
        return KeptData(key=row.data_key, kind=OLD_VOLUME, name=row.name, folder=row.path, since=since,
                        db_image=row.db_image, db_major=row.db_major, volumes=(row.volume,), copies=0,
                        copies_bytes=0, logs_bytes=0,
                        listed_owner=match is not None and match["key"] in listed_keys)
    try:
        key = checked_key(row.data_key)
    except UnsafeName:   # a damaged row: never turned into a path
        return None
    copies = host_copies.list_copies(host_copies.copies_dir(paths.data_dir, key))
    return KeptData(key=key, kind=REMOVED, name=row.name, folder=row.path, since=since, db_image=row.db_image,
                    db_major=row.db_major, volumes=removed_volumes(key, row.db_volume), copies=len(copies),
                    copies_bytes=sum(c.size for c in copies), logs_bytes=paths.logs_size(key))


def list_kept(store: ProjectStore, paths: AppPaths) -> list[KeptData]:
    """Every item of kept data, newest first."""
    from cchub_desktop.stack.db_image import pgdata_volume

    projects = store.rows()
    listed = {p.data_key for p in projects}
    in_use = {p.db_volume or pgdata_volume(p.data_key) for p in projects}
    items = [_item(row, paths, listed) for row in store.kept_rows() if row.volume not in in_use]
    return sorted((i for i in items if i is not None), key=lambda i: i.since, reverse=True)


def choose(items: list[KeptData], which: str) -> KeptData:
    """The item `which` names: its key as listed, or the name of the one removed project that had it.
    KeptDataError saying what to type instead."""
    wanted = which.strip()
    for item in items:
        if item.key == wanted or (item.kind == OLD_VOLUME and item.volumes[0] == wanted):
            return item
    named = [i for i in items if i.kind == REMOVED and i.name.casefold() == wanted.casefold()]
    if len(named) == 1:
        return named[0]
    if named:
        keys = ", ".join(i.key for i in named)
        raise KeptDataError(f"{len(named)} removed projects named '{wanted}' left data; name one by its key "
                            f"({keys}); nothing was deleted")
    raise KeptDataError(f"no kept data named '{wanted}' (see 'cchub kept-data'); nothing was deleted")


async def delete_kept(item: KeptData, store: ProjectStore, settings: AppSettings, paths: AppPaths,
                      log: StackLog) -> None:
    """Delete one item: it is taken off the list first (so no project adopts it meanwhile), its volumes are
    emptied through the engine, then its files deleted. StackError when the engine cannot do it: then the item
    is put back on the list and nothing is deleted. KeptDataError when it was adopted or deleted meanwhile."""
    import asyncio

    row = await asyncio.to_thread(store.take_kept, item.key)
    if row is None:
        raise KeptDataError(f"that kept data ({item.key}) is no longer there: a project adopted it, or it was "
                            "deleted; nothing was deleted")
    from cchub_desktop.stack.errors import StackError

    try:
        if item.kind == OLD_VOLUME:
            await _empty_old_volume(item, row, settings, paths, log)
        else:
            from cchub_desktop.project_data import delete_project_data

            await delete_project_data(_as_project(row), settings, paths, log)
    except StackError as exc:
        await asyncio.to_thread(store.put_back_kept, row)
        cause = exc.__cause__ if isinstance(exc.__cause__, StackError) else exc
        error = StackError(f"The engine could not empty the volumes of {item.name}'s kept data, so nothing was "
                           f"deleted: {cause.user_message}", detail=cause.detail, step="volumes")
        error.logged = cause.logged
        raise error from exc
    except BaseException:
        await asyncio.to_thread(store.put_back_kept, row)
        raise


def _as_project(row: RetiredData) -> Project:
    """A stand-in project for the removed one (never stored): what the volume wipe needs to know of it."""
    from cchub_desktop.store import Project as StoredProject

    return StoredProject(name=row.name, name_key=row.name_key, slug=f"kept-{row.data_key}", path=row.path,
                   backend_port=0, frontend_port=0, postgres_port=0, redis_port=0, data_key=row.data_key,
                   db_image=row.db_image, db_major=row.db_major, db_volume=row.db_volume,
                   secrets_fingerprint=row.secrets_fingerprint, last_started_at=row.removed_at)


async def _empty_old_volume(item: KeptData, row: RetiredData, settings: AppSettings, paths: AppPaths,
                            log: StackLog) -> None:
    from cchub_desktop.stack.backup import engine_session
    from cchub_desktop.stack.config import CommandCenterConfig
    from cchub_desktop.stack.volume_wipe import empty_volume

    match = OLD_VOLUME_NAME.fullmatch(item.volumes[0])
    if match is None:
        raise KeptDataError(f"{item.volumes[0]} is not a volume this app made; nothing was deleted")
    stand_in = _as_project(row)
    stand_in.data_key = match["key"]
    stand_in.db_volume = None
    config = CommandCenterConfig.for_plan(stand_in, settings)
    async with engine_session(settings, log, ()) as client:
        await empty_volume(client, config, item.volumes[0], log, image=row.db_image)
