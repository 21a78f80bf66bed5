"""Emptying a project's cache volumes through the engine: the volumes that belong to one project alone, each
emptied through the stack's own mount of it. Used by "remove with data" (project_data.py), reset-db and the
database upgrade (db_upgrade.py). No Qt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.backup import engine_session
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.errors import map_error
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.stack.recipe import CacheMount, build_recipe

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


async def wipe_volumes(config: CommandCenterConfig, settings: AppSettings, log: StackLog,
                       also: tuple[str, ...] = (), images: Mapping[str, str | None] | None = None) -> list[str]:
    """Empty the project's volumes (and `also` those) through the engine; returns their names. `images`: the
    PostgreSQL image that mounted a volume, when not the project's (an upgrade's old volume). Raises
    StackError."""
    names = project_volumes(config) + [n for n in also if n not in project_volumes(config)]
    async with engine_session(settings, log, config.secrets.values()) as client:
        for name in names:
            await empty_volume(client, config, name, log, image=(images or {}).get(name))
    return names


def stack_mount(config: CommandCenterConfig, name: str) -> CacheMount:
    """How the stack mounts volume `name`. The engine keeps one volume per name, sharing mode and owner (seen
    on Dagger v0.21.8): a mount with other options reaches another, empty volume, so a volume is emptied through
    the stack's own mount. A database volume the recipe does not mount (an upgrade's old one) is mounted as the
    database's, from the image that made it (empty_volume)."""
    caches = [cache for spec in build_recipe(config).services for cache in spec.caches]
    return next((cache for cache in caches if cache.volume == name),
                next(cache for cache in caches if cache.volume == config.pgdata_volume))


async def empty_volume(client: dagger.Client, config: CommandCenterConfig, name: str, log: StackLog,
                       image: str | None = None) -> None:
    """Delete everything in one cache volume, in an open session, mounted from `image` (default: the project's
    PostgreSQL image). The engine resolves the owner `postgres` to a uid:gid through the mounting image's
    /etc/passwd and keeps one volume per uid:gid (seen on Dagger v0.21.8: an upgrade's old volume, made by an
    image whose postgres user is 100, mounted from the new image, whose postgres is 999, was another, empty
    volume): an old database volume is emptied from the image that made it. Raises StackError."""
    import dagger

    log.note(f"[hub] deleting the data in volume {name}")
    mount = stack_mount(config, name)
    wipe = (client.container().from_(image or config.images.postgres)
            .with_env_variable("CCHUB_WIPE_AT", str(time.time_ns()))  # never a cached result
            .with_mounted_cache(WIPE_MOUNT, client.cache_volume(name),
                                sharing=dagger.CacheSharingMode[mount.sharing], owner=mount.owner)
            .with_exec(list(WIPE_COMMAND)))
    try:
        await wipe.sync()
    except Exception as exc:
        raise map_error(exc, "volumes", f"deleting the data in volume {name}",
                        secret_values=config.secrets.values()) from exc
