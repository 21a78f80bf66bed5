"""A removed project's data: its PostgreSQL and Redis cache volumes, its generated secrets, its log files and
the host copies of its data (host_copies.py).

The volumes are emptied first, in an engine session of their own: if that fails (no engine), nothing else is
deleted, because secrets deleted while the old database survives would lock the user out of it when a project
of the same name is added again. The project folder is never touched. No Qt here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop.paths import AppPaths
from cchub_desktop.safe_names import checked_key
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, StackError, StackLog
from cchub_desktop.stack.backup import engine_session
from cchub_desktop.stack.errors import map_error
from cchub_desktop.stack.recipe import CacheMount, build_recipe
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import Project

if TYPE_CHECKING:
    import dagger

WIPE_MOUNT = "/volume"
WIPE_COMMAND = ("sh", "-c", f"find {WIPE_MOUNT} -mindepth 1 -delete")


def project_volumes(config: CommandCenterConfig) -> list[str]:
    """The cache volumes that belong to this project alone (its database, Redis and rag_storage; not the pip,
    npm and model caches all projects share), each once."""
    prefix = f"cchub-{config.data_key}-"
    names = [cache.volume for spec in build_recipe(config).services for cache in spec.caches
             if cache.volume.startswith(prefix)]
    return list(dict.fromkeys(names))


def project_files(paths: AppPaths, key: str) -> list[Path]:
    """The secrets file and the log files (with rotated copies) of a project."""
    logs = [paths.log_file(key), *paths.logs_dir.glob(f"{checked_key(key)}.log.*")]
    return [secrets_file(paths.secrets_dir, key), *logs]


async def wipe_volumes(config: CommandCenterConfig, settings: AppSettings, log: StackLog,
                       also: tuple[str, ...] = ()) -> list[str]:
    """Empty the project's volumes (and `also` those) through the engine; returns their names. Raises
    StackError."""
    names = project_volumes(config) + [n for n in also if n not in project_volumes(config)]
    async with engine_session(settings, log, config.secrets.values()) as client:
        for name in names:
            await empty_volume(client, config, name, log)
    return names


def stack_mount(config: CommandCenterConfig, name: str) -> CacheMount:
    """How the stack mounts volume `name`. The engine keeps one volume per name, sharing mode and owner (seen
    on Dagger v0.21.8): a mount with other options reaches another, empty volume, so a volume is emptied through
    the stack's own mount. A database volume the recipe does not mount (an upgrade's old one) is mounted as the
    database's."""
    caches = [cache for spec in build_recipe(config).services for cache in spec.caches]
    return next((cache for cache in caches if cache.volume == name),
                next(cache for cache in caches if cache.volume == config.pgdata_volume))


async def empty_volume(client: dagger.Client, config: CommandCenterConfig, name: str, log: StackLog) -> None:
    """Delete everything in one cache volume, in an open session. Raises StackError."""
    import dagger

    log.note(f"[hub] deleting the data in volume {name}")
    mount = stack_mount(config, name)
    wipe = (client.container().from_(config.images.postgres)
            .with_env_variable("CCHUB_WIPE_AT", str(time.time_ns()))  # never a cached result
            .with_mounted_cache(WIPE_MOUNT, client.cache_volume(name),
                                sharing=dagger.CacheSharingMode[mount.sharing], owner=mount.owner)
            .with_exec(list(WIPE_COMMAND)))
    try:
        await wipe.sync()
    except Exception as exc:
        raise map_error(exc, "volumes", f"deleting the data in volume {name}",
                        secret_values=config.secrets.values()) from exc


async def delete_project_data(project: Project, settings: AppSettings, paths: AppPaths, log: StackLog, *,
                              retire_copies: str = "") -> None:
    """Empty the project's volumes, then delete its secrets, logs and host copies. StackError (nothing deleted)
    when the engine cannot be reached. With `retire_copies` (a label: reset-db) the host copies are kept in a
    subfolder of that name, where no start restores from them."""
    config = CommandCenterConfig.from_project(project, settings, paths)
    retired = await asyncio.to_thread(_retired_volumes, project, paths)
    try:
        await wipe_volumes(config, settings, log, also=tuple(retired))
    except StackError as exc:
        raise StackError(f"The project's data volumes could not be deleted, so nothing was removed: "
                         f"{exc.user_message} You can also remove the project without deleting its data.",
                         detail=exc.detail, step="volumes") from exc
    log.close()
    await asyncio.to_thread(_forget_retired, retired, paths)
    await asyncio.to_thread(_unlink_all, project_files(paths, project.data_key))
    await asyncio.to_thread(_drop_copies, paths, project.data_key, retire_copies)


def _drop_copies(paths: AppPaths, key: str, retire_label: str) -> None:
    from cchub_desktop import host_copies

    if retire_label:
        host_copies.retire_copies(host_copies.copies_dir(paths.data_dir, key), retire_label)
    else:
        host_copies.delete_copies(paths.data_dir, key)


def _retired_volumes(project: Project, paths: AppPaths) -> list[str]:
    """The old database volumes that upgrades of this project kept (stack/db_upgrade.py)."""
    from cchub_desktop.stack.db_upgrade import retired_volumes_of
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(paths.db_file)
    try:
        return retired_volumes_of(store, project)
    finally:
        store.close()


def _forget_retired(volumes: list[str], paths: AppPaths) -> None:
    if not volumes:
        return
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(paths.db_file)
    try:
        store.forget_retired_volumes(volumes)
    finally:
        store.close()


def _unlink_all(files: list[Path]) -> None:
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
