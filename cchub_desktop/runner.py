"""`python -m cchub_desktop.runner NAME`: project NAME's runner, as the window starts it (runner_control.py):
`cchub up --runner NAME`, at a lower CPU priority taken before anything heavy is imported.

Runners yield the CPU to the window: its loop stays responsive while stacks start, and a start waits on the
engine, not on its runner's CPU (benchmarks/README.md, event loop). Their children (the Dagger CLI session)
inherit the priority. Only the standard library here, and nothing at import time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

RUNNER_NICE = 19


def lower_priority() -> None:
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(RUNNER_NICE)
    # Linux with autogroups: a runner leads a session of its own, so the scheduler shares the CPU between its
    # group and the window's as equals, whatever the processes' nice; the group's own nice is what counts
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(RUNNER_NICE))


def main(argv: Sequence[str] | None = None) -> int:
    lower_priority()
    from cchub_desktop.cli import main as cli_main

    return cli_main(["up", "--runner", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
