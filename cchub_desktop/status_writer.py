"""StatusWriter: records project states in the store in order, off the event loop's thread. No Qt here.

A SQLite commit with fsync takes tens of milliseconds on an ordinary disk; the orchestrator changes states on
the UI's loop, so the writes go to a worker thread one after another and the window never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from cchub_desktop.store import ProjectStatus, ProjectStore

logger = logging.getLogger(__name__)
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class StatusWriter:
    def __init__(self, store: ProjectStore, spawn: Spawn) -> None:
        self._store = store
        self._spawn = spawn
        self._pending: deque[tuple[int, ProjectStatus, str | None, datetime]] = deque()
        self._task: asyncio.Task[None] | None = None
        # when each project last became running here: the very value the store records as last_started_at
        self.running_since: dict[int, datetime] = {}

    def record(self, project_id: int, status: ProjectStatus, message: str | None) -> None:
        """Queue a write; must be called on the loop's thread."""
        at = datetime.now(UTC)
        if status == ProjectStatus.RUNNING:
            self.running_since[project_id] = at
        self._pending.append((project_id, status, message, at))
        if self._task is None or self._task.done():
            self._task = self._spawn(self._write_pending())

    @property
    def idle(self) -> bool:
        """Every state recorded so far is in the store."""
        return not self._pending and (self._task is None or self._task.done())

    async def flush(self) -> None:
        """Wait until every state recorded so far is in the store."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _write_pending(self) -> None:
        while self._pending:
            project_id, status, message, at = self._pending.popleft()
            try:
                await asyncio.to_thread(self._store.set_status, project_id, status, message, at=at)
            except KeyError:
                pass  # removed meanwhile; nothing to record
            except Exception:
                logger.exception("could not record the status of project %s", project_id)
