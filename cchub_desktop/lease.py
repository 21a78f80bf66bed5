"""One owner per project: an OS file lock that dies with its process, even on `kill -9`.

Whichever process runs a project's stack (the app or a `cchub up`) holds the project's lease for as long as
the stack lives; a short destructive job (remove, edit of ports or folder, delete data, backup, restore)
holds it for the job. Any other process that wants to act on the project tries the lease and, when it is
held, refuses at once and names the owner from what the owner wrote into the lock file: its pid, kind,
start time and the stack's state. Status shown anywhere comes from the lease, not from the database: a
project recorded as running whose lease is free has no stack (its owner died).

The lock is `fcntl.flock` on POSIX (`msvcrt.locking` of a byte far past the text on Windows), on one file
per project in the runtime folder, named after the project's data key (fixed at creation, never reused).
No Qt here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

APP = "app"
UP = "cchub up"
STACK_STATES = ("starting", "running", "stopping")
LOCK_OFFSET = 1 << 20  # Windows: the locked byte, past any text the file holds (so readers can read it)
_MAX_INFO = 4096
_RETRIES, _RETRY_S = 50, 0.002


@dataclass(frozen=True)
class Owner:
    """What the lease holder wrote about itself (fields are None when it had not written yet)."""

    pid: int | None
    kind: str
    started_at: str | None = None
    state: str | None = None

    def where(self) -> str:
        """Where the project runs, as a user reads it: "the CommandCenter Hub app (pid 41)"."""
        pid = f" (pid {self.pid})" if self.pid else ""
        if self.kind == APP:
            return f"the CommandCenter Hub app{pid}"
        return f"`{self.kind}`{pid}"

    @property
    def runs_stack(self) -> bool:
        """A stack runs there (not a short job such as a backup or a removal)."""
        return self.kind in (APP, UP) and (self.state is None or self.state in STACK_STATES)

    @property
    def is_me(self) -> bool:
        return self.pid == os.getpid()


class LeaseHeld(Exception):
    """Another process holds the project's lease."""

    def __init__(self, name: str, owner: Owner) -> None:
        self.name = name
        self.owner = owner
        super().__init__(busy_message(name, owner))


def busy_message(name: str, owner: Owner) -> str:
    """One line naming the owner and what to do."""
    if owner.runs_stack:
        state = owner.state or "running"
        return (f"'{name}' is {state} in {owner.where()} — stop it there, or run `cchub stop {name}`.")
    doing = owner.state or "working on it"
    return f"'{name}' is busy: {owner.where()} is {doing}. Try again when it has finished."


def lease_dir(runtime_dir: Path) -> Path:
    return Path(runtime_dir) / "leases"


def lease_path(runtime_dir: Path, data_key: str) -> Path:
    return lease_dir(runtime_dir) / f"{data_key}.lock"


def _open(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)   # not inherited by child processes (PEP 446)


def _try_lock(fd: int, *, shared: bool = False) -> bool:
    if sys.platform == "win32":
        import msvcrt
        os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt
        os.lseek(fd, LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_owner(fd: int) -> Owner:
    raw = os.pread(fd, _MAX_INFO, 0) if hasattr(os, "pread") else b""
    try:
        info = json.loads(raw.decode("utf-8").strip("\0 \n") or "{}")
    except (UnicodeDecodeError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    pid = info.get("pid")
    return Owner(pid=pid if isinstance(pid, int) else None, kind=str(info.get("kind") or "another process"),
                 started_at=_str_or_none(info.get("started_at")), state=_str_or_none(info.get("state")))


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def owner_of(runtime_dir: Path, data_key: str) -> Owner | None:
    """The process holding the project's lease, or None when it is free (nobody runs the project). A lease
    held by this very process is reported too (Owner.is_me)."""
    path = lease_path(runtime_dir, data_key)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY if sys.platform != "win32" else os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if _try_lock(fd, shared=True):
            _unlock(fd)
            return None
        owner = _read_owner(fd)
        for _ in range(_RETRIES):   # caught mid-write: read again
            if owner.pid is not None:
                break
            time.sleep(_RETRY_S)
            owner = _read_owner(fd)
        return owner
    finally:
        os.close(fd)


class Lease:
    """A held lease. `acquire` or LeaseHeld; `release` (or process death) frees it."""

    def __init__(self, path: Path, fd: int, name: str, kind: str) -> None:
        self.path = path
        self._fd: int | None = fd
        self.name = name
        self.kind = kind
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.state: str | None = None

    @classmethod
    def acquire(cls, runtime_dir: Path, data_key: str, name: str, kind: str, *, state: str | None = None) -> Lease:
        """Take the project's lease at once, or raise LeaseHeld naming the holder."""
        path = lease_path(runtime_dir, data_key)
        fd = _open(path)
        # a reader probing the lease holds a shared lock for microseconds: only a holder that wrote who it
        # is (its pid) is a real owner; retry briefly otherwise
        for attempt in range(_RETRIES + 1):
            if _try_lock(fd):
                break
            owner = _read_owner(fd)
            if owner.pid is not None or attempt == _RETRIES:
                os.close(fd)
                raise LeaseHeld(name, owner)
            time.sleep(_RETRY_S)
        lease = cls(path, fd, name, kind)
        lease.set_state(state)
        return lease

    @property
    def held(self) -> bool:
        return self._fd is not None

    def set_state(self, state: str | None) -> None:
        """Record the stack's state (starting, running, stopping) for other processes to read."""
        self.state = state
        if self._fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "kind": self.kind, "name": self.name,
                           "started_at": self.started_at, "state": state}).encode("utf-8")
        # the new text over the old, then cut to its length: a reader never sees an empty file, at worst a
        # mix that does not parse (it reads again: owner_of)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, text)
        os.ftruncate(self._fd, len(text))

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            _unlock(fd)
        os.close(fd)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_status(recorded: str, owner: Owner | None) -> str:
    """The status to show: the owner's state while the lease is held, else the record, where a starting,
    running or stopping record without an owner is stale ('stopped': the process that ran it is gone)."""
    if owner is not None and owner.runs_stack:
        return owner.state or "running"
    if recorded in ("starting", "running", "stopping"):
        return "stopped"
    return recorded
