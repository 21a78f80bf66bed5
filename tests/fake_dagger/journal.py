"""The fake engine's journal: what each session did, as JSON lines, and a reader for tests.

Each `dagger session` process appends to `$FAKE_DAGGER_JOURNAL_DIR/<pid>.jsonl`. Record kinds:

- `session`  event start (argv, labels, env of interest, faults) / end (reason) / crash (reason)
- `request`  one GraphQL HTTP request: top-level fields, duration, error count
- `call`     every resolved API field: type, field, args (a secret's plaintext is replaced by its digest)
- `exec`     a withExec that ran: command, image, workdir, exit code
- `upload`   a host directory sent to the engine: path, file count, bytes, exclude/include
- `service`  start / stop / start-failed / start-cancelled of a container service, with what it is
- `tunnel`   listen / close / listen-failed of a host tunnel, with its host and port forwards
- `error`    an error returned to the client (message)

Secret plaintext is never written by the engine: `all_text()` is there so a test can grep the whole
journal for a secret value that the *client* leaked into some other argument.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

Record = dict[str, Any]


class JournalWriter:
    """Appends records for one session process; thread-safe; a no-op without a directory."""

    def __init__(self, directory: str | None) -> None:
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            self._file = open(Path(directory) / f"{os.getpid()}.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def write(self, kind: str, **fields: Any) -> None:
        if self._file is None:
            return
        line = json.dumps({"ts": time.time(), "pid": os.getpid(), "kind": kind, **fields}, default=str)
        with self._lock:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def process_exited(pid: int) -> bool:
    """True when the process is gone (or a zombie waiting to be reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        return state in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class SessionInfo:
    """One `dagger session` process as the journal saw it."""

    pid: int
    records: tuple[Record, ...]

    def _event(self, event: str) -> Record | None:
        return next((r for r in self.records if r["kind"] == "session" and r.get("event") == event), None)

    @property
    def start(self) -> Record | None:
        return self._event("start")

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.start or {}).get("labels", {}))

    @property
    def env(self) -> dict[str, str | None]:
        return dict((self.start or {}).get("env", {}))

    @property
    def ended_cleanly(self) -> bool:
        """The session shut down in order (stdin closed or SIGTERM) and closed every listener."""
        return self._event("end") is not None

    @property
    def crashed(self) -> bool:
        return self._event("crash") is not None

    @property
    def end_reason(self) -> str | None:
        rec = self._event("end") or self._event("crash")
        return None if rec is None else str(rec.get("reason"))

    @property
    def exited(self) -> bool:
        """The process no longer runs (checked now, against the OS)."""
        return process_exited(self.pid)


class Journal:
    """Reads every session journal in a directory. All methods re-read the files (cheap, small)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl")) if self.directory.is_dir() else []

    def records(self, kind: str | None = None, pid: int | None = None) -> list[Record]:
        out: list[Record] = []
        for path in self._files():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line being written right now
                    continue
                if (kind is None or rec["kind"] == kind) and (pid is None or rec["pid"] == pid):
                    out.append(rec)
        out.sort(key=lambda r: r["ts"])
        return out

    def calls(self, field: str | None = None, type: str | None = None, pid: int | None = None) -> list[Record]:
        return [r for r in self.records("call", pid)
                if (field is None or r["field"] == field) and (type is None or r["type"] == type)]

    def sessions(self) -> list[SessionInfo]:
        by_pid: dict[int, list[Record]] = {}
        for rec in self.records():
            by_pid.setdefault(rec["pid"], []).append(rec)
        infos = [SessionInfo(pid, tuple(recs)) for pid, recs in by_pid.items()]
        return sorted(infos, key=lambda s: s.records[0]["ts"])

    def _events(self, kind: str, event: str | None, pid: int | None) -> list[Record]:
        return [r for r in self.records(kind, pid) if event is None or r.get("event") == event]

    def services(self, event: str | None = None, pid: int | None = None) -> list[Record]:
        return self._events("service", event, pid)

    def tunnels(self, event: str | None = None, pid: int | None = None) -> list[Record]:
        return self._events("tunnel", event, pid)

    def execs(self, pid: int | None = None) -> list[Record]:
        return self.records("exec", pid)

    def uploads(self, pid: int | None = None) -> list[Record]:
        return self.records("upload", pid)

    def requests(self, pid: int | None = None) -> list[Record]:
        return self.records("request", pid)

    def errors(self, pid: int | None = None) -> list[Record]:
        return self.records("error", pid)

    def running_services(self, pid: int | None = None) -> list[Record]:
        """Service start records not followed by a stop, in sessions whose process still runs."""
        return self._still_open("service", "start", "stop", pid)

    def open_tunnels(self, pid: int | None = None) -> list[Record]:
        """Tunnel listen records not followed by a close, in sessions whose process still runs."""
        return self._still_open("tunnel", "listen", "close", pid)

    def _still_open(self, kind: str, opened: str, closed: str, pid: int | None) -> list[Record]:
        live = {s.pid for s in self.sessions() if not s.exited}
        current: dict[tuple[int, str], Record] = {}
        for rec in self._events(kind, None, pid):
            key = (rec["pid"], rec["service_id"])
            if rec["event"] == opened:
                current[key] = rec
            elif rec["event"] == closed:
                current.pop(key, None)
        return [r for (p, _), r in current.items() if p in live]

    def all_text(self) -> str:
        """Every journal file's raw text, for grepping (e.g. that no secret value appears anywhere)."""
        return "".join(p.read_text(encoding="utf-8") for p in self._files())

    def wait_until(self, condition: Callable[[Journal], bool], timeout: float = 10.0,
                   what: str = "journal condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not met within {timeout} s")
            time.sleep(0.02)

    def wait_sessions_exited(self, timeout: float = 10.0, pids: Iterable[int] | None = None) -> None:
        """Wait until every session process (or those in `pids`) has exited."""
        wanted = set(pids) if pids is not None else None
        self.wait_until(
            lambda j: all(s.exited for s in j.sessions() if wanted is None or s.pid in wanted),
            timeout, "all fake engine sessions exited",
        )
