"""A writer killed with SIGKILL in the middle of a stream of writes loses no committed project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from cchub_desktop.store import ProjectStore

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cchub_desktop.store import ProjectStore
    db, folder, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = ProjectStore(db, live_port_check=False)
    n = start
    while True:
        store.add(f"p{n}", folder, backend_port=20000 + n, frontend_port=30000 + n,
                  postgres_port=40000 + n, redis_port=50000 + n)
        print(n, flush=True)   # printed only after the commit returned
        n += 1
    """
)


def test_sigkill_during_writes_loses_no_committed_project(tmp_path: Path, project_dir: Path) -> None:
    db = tmp_path / "projects.sqlite3"
    committed: set[str] = set()
    next_n = 0
    for _round in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(project_dir), str(next_n)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(3):  # let it commit a few, then kill it mid-stream
            line = proc.stdout.readline()
            assert line, "writer died before committing"
            committed.add(f"p{int(line)}")
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        for line in rest.split():
            committed.add(f"p{int(line)}")
        store = ProjectStore(db, live_port_check=False)  # the DB opens after every kill
        names = {p.name for p in store.list()}
        store.close()
        assert committed <= names, f"lost committed projects: {sorted(committed - names)}"
        next_n = max(int(n[1:]) for n in names) + 1
    assert len(committed) >= 60
