"""A removed project's data: its PostgreSQL and Redis cache volumes, its generated secrets, its log files and
the host copies of its data (host_copies.py).

The volumes are emptied first, in an engine session of their own (stack/volume_wipe.py): if that fails (no
engine), nothing else is deleted, because secrets deleted while the old database survives would lock the user
out of it when a project of the same name is added again. The project folder is never touched. No Qt here.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop.log_names import links_to
from cchub_desktop.paths import AppPaths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, StackError, StackLog
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.stack.volume_wipe import wipe_volumes

if TYPE_CHECKING:
    from cchub_desktop.store import Project


def project_files(paths: AppPaths, key: str) -> list[Path]:
    """The secrets file and every log file of a project (AppPaths.log_files), with the links to its log."""
    return [secrets_file(paths.secrets_dir, key), *paths.log_files(key), *links_to(paths, key)]


async def delete_project_data(project: Project, settings: AppSettings, paths: AppPaths, log: StackLog, *,
                              retire_copies: str = "") -> None:
    """Empty the project's volumes, then delete its secrets, logs and host copies. StackError (nothing deleted)
    when the engine cannot be reached. With `retire_copies` (a label: reset-db, which keeps the project) the
    host copies are kept in a subfolder of that name, where no start restores from them, and its log is kept:
    what the project did before the reset, and the reset itself, stay readable."""
    config = CommandCenterConfig.from_project(project, settings, paths)
    retired = await asyncio.to_thread(_retired_volumes, project, paths)
    try:
        await wipe_volumes(config, settings, log, also=tuple(retired), images=retired)
    except StackError as exc:
        raise StackError(f"The project's data volumes could not be deleted, so nothing was removed: "
                         f"{exc.user_message} You can also remove the project without deleting its data.",
                         detail=exc.detail, step="volumes") from exc
    await asyncio.to_thread(_forget_retired, list(retired), paths)
    if retire_copies:
        await asyncio.to_thread(_unlink_all, [secrets_file(paths.secrets_dir, project.data_key)])
    else:
        log.close()
        await asyncio.to_thread(_unlink_all, project_files(paths, project.data_key))
    await asyncio.to_thread(_drop_copies, paths, project.data_key, retire_copies)


def _drop_copies(paths: AppPaths, key: str, retire_label: str) -> None:
    from cchub_desktop import host_copies

    if retire_label:
        host_copies.retire_copies(host_copies.copies_dir(paths.data_dir, key), retire_label)
    else:
        host_copies.delete_copies(paths.data_dir, key)


def _retired_volumes(project: Project, paths: AppPaths) -> dict[str, str | None]:
    """The old database volumes that upgrades of this project kept (stack/db_upgrade.py), each with the image
    that made it."""
    from cchub_desktop.stack.db_upgrade import retired_volume_images
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(paths.db_file)
    try:
        return retired_volume_images(store, project)
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
