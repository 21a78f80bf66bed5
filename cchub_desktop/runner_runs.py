"""What a client knows of one runner it follows (runner_control.py): the project, the runner's pid, its
process when this client started it, and whether a stop was asked. No Qt, no Dagger."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass, field

from cchub_desktop.lease import Owner
from cchub_desktop.log_tail import FileTail

FOLLOW_S = 0.2   # how often a client reads a runner's lease: a state shows within this
# seconds the window waits after asking a runner to stop before it ends the runner and its engine session
# (a hung engine); a runner nobody waits for ends itself later (cli_stack.py RUNNER_STOP_BOUND)
RUNNER_STOP_BOUND = 90.0
BACKUP_WAIT_S = 30 * 60.0   # a backup a runner takes in its session: a large database takes minutes


@dataclass
class RunnerRun:
    project_id: int
    name: str
    data_key: str
    loop: asyncio.AbstractEventLoop
    pid: int | None = None
    proc: subprocess.Popen[bytes] | None = None   # when this process started it (its exit code is ours)
    stopping: bool = False
    tail: FileTail | None = None   # the project's log file, from where this client began following it
    follow: asyncio.Task[None] | None = None
    launching: asyncio.Future[subprocess.Popen[bytes]] | None = None   # the runner's process being started
    settled: asyncio.Future[None] = field(init=False)   # it runs, or it has ended
    ended: asyncio.Future[None] = field(init=False)

    def __post_init__(self) -> None:
        self.settled = self.loop.create_future()
        self.ended = self.loop.create_future()

    def alive(self, owner: Owner | None) -> bool:
        """Still to be waited for, though its lease does not name it now: a runner this process started that
        has not exited (it takes its lease a moment after it starts)."""
        return self.proc is not None and self.proc.poll() is None
