"""What one process knows of one project's run: one record per project (Orchestrator), instead of a table per
field. No Qt, no Dagger."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cchub_desktop.lease import Lease, Owner
    from cchub_desktop.runner_runs import RunnerRun
    from cchub_desktop.stack import CommandCenterStack, StackLog
    from cchub_desktop.store import ProjectStatus


@dataclass
class ProjectRun:
    """A project as this process shows and drives it. `state` None and `message_known` False: nothing known
    here yet, the store's record stands."""

    # what the row shows
    state: ProjectStatus | None = None
    phase: str | None = None
    message: str | None = None
    message_known: bool = False
    health: str | None = None           # while running: 'healthy' or what does not answer
    detailed: bool = False              # its last failure logged more than the message (has_details)
    log: StackLog | None = None         # the same object across starts, so earlier output stays readable
    # who runs it
    runner: RunnerRun | None = None     # the runner process this process started or adopted
    lease: Lease | None = None          # this process's own lease on it (an in-process stack, a short job)
    external: Owner | None = None       # another process that owns it (a `cchub up`, a job, another app)
    # a stack run in this process (tests of the stack's lifecycle)
    stack: CommandCenterStack | None = None
    start_task: asyncio.Task[None] | None = None
    stop_task: asyncio.Task[None] | None = None
    watchers: list[asyncio.Task[None]] = field(default_factory=list)
    # work on it that keeps it from starting
    removing: bool = False
    upgrading: bool = False             # its database is being upgraded
    job: str | None = None              # an engine job in a process of its own (engine_jobs.py): what it is

    def show(self, state: ProjectStatus, message: str | None) -> None:
        self.state = state
        self.message = message
        self.message_known = True


NOTHING_KNOWN = ProjectRun()   # what a project never seen here reads as (never written to)
