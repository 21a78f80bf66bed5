"""Update CommandCenter (`cchub update`, the window, the tray): move a project's source pin
(source_pin.py) to the newest commit of Settings → Source's ref, in a short engine session of its own. No Qt.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from cchub_desktop.stack.engine_env import ENVIRONMENT_GATE, locate_cli, session_environment
from cchub_desktop.stack.errors import StackError, map_error
from cchub_desktop.stack.runner_probe import check_runner
from cchub_desktop.stack.source_pin import SourcePin, UpdateResult, pin_of, resolve_commit
from cchub_desktop.stack.source_settings import SourceSettings

if TYPE_CHECKING:
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.store import Project, ProjectStore


async def update_project(store: ProjectStore, project: Project, settings: AppSettings, *,
                         running: bool = False) -> UpdateResult:
    """Resolve Settings → Source's ref to its newest commit in a short engine session of its own and record
    it as the project's pin. Raises StackError (nothing recorded) when the engine cannot answer."""
    source = SourceSettings.from_settings(settings)
    if source.local_dir is not None:
        raise StackError(f"Settings → Source use the local checkout {source.local_dir}: it is not pinned, so "
                         "there is nothing to update. Pull in that folder, or clear it to use git.",
                         step="source")
    assert project.id is not None
    old = pin_of(project)
    choice = await asyncio.to_thread(locate_cli, settings)
    sdk = await asyncio.to_thread(importlib.import_module, "dagger")
    await asyncio.to_thread(check_runner, settings)  # a dead runner would make the CLI wait for ever
    try:
        async with ENVIRONMENT_GATE.applied(session_environment(settings, choice)):
            conn = sdk.Connection(sdk.Config(retry=None))
            client = await conn.__aenter__()
        try:
            commit = await resolve_commit(client, source.git_url, source.git_ref)
        finally:
            await conn.__aexit__(None, None, None)
    except StackError:
        raise
    except Exception as exc:
        raise map_error(exc, "source", f"finding the newest commit of {source.describe()}") from exc
    date = old.date if old is not None and old.commit == commit else None
    new = SourcePin(source.git_url, source.git_ref, commit, date)
    await asyncio.to_thread(store.record_source_pin, project.id, new.url, new.ref, new.commit, new.date)
    return UpdateResult(project.name, old, new, applies_next_start=running and (old is None or
                                                                            old.commit != commit))
