"""The one place where orchestrator callbacks become Qt signals, and UI requests become orchestrator tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.store import ProjectStatus

logger = logging.getLogger(__name__)


class OrchestratorBridge(QObject):
    """Re-emits every OrchestratorEvent as the Qt signal `project_event` (queued across threads by Qt), and runs
    the orchestrator's coroutines as background tasks so no slot ever waits on Dagger."""

    project_event = Signal(object)  # OrchestratorEvent

    def __init__(self, orchestrator: Orchestrator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.orchestrator = orchestrator
        orchestrator.subscribe(self._forward)

    def _forward(self, event: OrchestratorEvent) -> None:
        self.project_event.emit(event)

    def detach(self) -> None:
        self.orchestrator.unsubscribe(self._forward)

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Schedule a coroutine on the running asyncio loop; the orchestrator keeps it referenced."""
        return self.orchestrator.spawn(coro)

    def start(self, project_id: int) -> asyncio.Task[Any] | None:
        """Request a start: the project is `starting` when this returns (None: it already was active)."""
        return self.orchestrator.request_start(project_id)

    def stop(self, project_id: int) -> asyncio.Task[Any] | None:
        """Request a stop: the project is `stopping` when this returns (None: nothing to stop)."""
        return self.orchestrator.request_stop(project_id)

    def restart(self, project_id: int) -> asyncio.Task[Any] | None:
        """Stop a running project, then start it again (None: it was not running)."""
        if self.orchestrator.state(project_id) != ProjectStatus.RUNNING:
            return None
        return self.run(self.orchestrator.restart(project_id))

    def toggle(self, project_id: int) -> asyncio.Task[Any] | None:
        """Start a stopped (or failed) project, stop a starting or running one; nothing while stopping."""
        state = self.orchestrator.state(project_id)
        if state in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
            return self.start(project_id)
        if state in (ProjectStatus.STARTING, ProjectStatus.RUNNING):
            return self.stop(project_id)
        return None
