"""A real other process holding a project's lease, as a `cchub up` or the app would (tests only)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import TracebackType

HOLD = """
import sys
from pathlib import Path
from cchub_desktop.lease import Lease
lease = Lease.acquire(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], state=sys.argv[5])
print("held", flush=True)
sys.stdin.read()   # until the test closes our stdin
lease.release()
"""


class LeaseHolder:
    """Holds the lease of `data_key` in a child process until `release()` (exit 0 expected)."""

    def __init__(self, runtime_dir: object, data_key: str, name: str, kind: str = "cchub up",
                 state: str = "running") -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(runtime_dir), data_key, name, kind, state],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "held", f"the lease holder did not start: {line!r}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            assert self.proc.wait(30) == 0

    def __enter__(self) -> LeaseHolder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
