"""One owner per project: an OS file lock that dies with its process, even on `kill -9`.

Whichever process runs a project's stack (the app or a `cchub up`) holds the project's lease for as long as
the stack lives; a short destructive job (remove, edit of ports or folder, delete data, backup, restore)
holds it for the job. Any other process that wants to act on the project tries the lease and, when it is
held, refuses at once and names the owner from what the owner wrote into the lock file: its pid, kind,
start time and the stack's state. Status shown anywhere comes from the lease, not from the database: a
project recorded as running whose lease is free has no stack (its owner died).

The lock is `fcntl.flock` on POSIX (`msvcrt.locking` of a byte far past the text on Windows), on one file
per project in the runtime folder, named after the project's data key (fixed at creation, never reused).
A lock file can be removed behind its holder's back (a temp-folder cleaner may): so the file carries the
sticky bit (which tells XDG cleaners to keep it), a taker re-checks after locking that the file it locked is
the one at the path, and on Linux the holder also holds a guard no file operation can remove: a listening
socket in the abstract namespace, named after the lock's path and the user's uid. A taker that finds the
guard held (by a process of the same user: checked with SO_PEERCRED) is refused even when the file is gone,
and the holder puts a fresh lock file back at the path when it next records its state.
No Qt here.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cchub_desktop.safe_names import checked_key

APP = "app"
UP = "cchub up"
RUNNER = "runner"   # a stack's runner process the window started (`cchub up --runner`, runner.py)
STACK_STATES = ("starting", "running", "stopping")
LOCK_OFFSET = 1 << 20  # Windows: the locked byte, past any text the file holds (so readers can read it)
_MAX_INFO = 4096
_MAX_PHASE = 400   # a phase with its build progress line; the whole record stays well under _MAX_INFO
_RETRIES, _RETRY_S = 50, 0.002


@dataclass(frozen=True)
class Owner:
    """What the lease holder wrote about itself (fields are None when it had not written yet)."""

    pid: int | None
    kind: str
    started_at: str | None = None
    state: str | None = None
    phase: str | None = None    # while starting: the stack's phase (stack/phases.py), with build progress
    health: str | None = None   # while running: 'healthy' or what does not answer (health_monitor.py)

    def where(self) -> str:
        """Where the project runs, as a user reads it: "the CommandCenter Hub app (pid 41)"."""
        pid = f" (pid {self.pid})" if self.pid else ""
        if self.kind == APP:
            return f"the CommandCenter Hub app{pid}"
        if self.kind == RUNNER:
            return f"the CommandCenter Hub's runner{pid}"
        return f"`{self.kind}`{pid}"

    @property
    def runs_stack(self) -> bool:
        """A stack runs there (not a short job such as a backup or a removal)."""
        return self.kind in (APP, UP, RUNNER) and (self.state is None or self.state in STACK_STATES)

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
    return lease_dir(runtime_dir) / f"{checked_key(data_key)}.lock"


def _open(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)   # not inherited by child processes (PEP 446)
    if sys.platform != "win32":
        with contextlib.suppress(OSError):   # sticky: "do not clean up" for XDG runtime-folder cleaners
            os.fchmod(fd, 0o1600)
    return fd


def _same_file(fd: int, path: Path) -> bool:
    """The open file is the one now at the path (not one removed, or replaced, since it was opened)."""
    try:
        at_path = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (at_path.st_dev, at_path.st_ino)


def _guard_name(path: Path) -> bytes | None:
    """The abstract socket name guarding this lock path (Linux only; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    digest = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()[:40]
    return f"\0cchub-lease-{os.getuid()}-{digest}".encode()


def _guard_holder(name: bytes) -> Owner | None:
    """The process of this user holding the guard, as it describes itself (pid from the kernel), or None
    when no process of this user does. A holder that does not answer in time still holds it."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(5.0)
        probe.connect(name)
        pid, uid, _gid = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
        if uid != os.getuid():   # another user's squat is not an owner of ours
            return None
        raw = b""
        with contextlib.suppress(OSError):
            while len(raw) < _MAX_INFO and (chunk := probe.recv(_MAX_INFO)):
                raw += chunk
    except (TimeoutError, BlockingIOError):   # a busy holder: better refused than wiped
        return Owner(pid=None, kind="another process")
    except OSError:   # refused: bound by a socket that does not listen, which no holder of ours is
        return None
    finally:
        probe.close()
    told = _parse_owner(raw)
    return Owner(pid=pid, kind=told.kind, started_at=told.started_at, state=told.state)


def _answer_probes(guard: socket.socket, info: Callable[[], bytes]) -> None:
    """Tell each probe who holds the lease and hang up, so that probes never fill the guard's queue (the
    thread ends when the guard is shut down)."""
    while True:
        try:
            conn, _ = guard.accept()
        except OSError:
            return
        with contextlib.suppress(OSError), conn:
            conn.settimeout(1.0)
            conn.sendall(info())


def _take_guard(path: Path) -> socket.socket | Owner | None:
    """Bind the guard: the socket (held), its holder (refused), or None (no guard on this platform, or
    another user squats the name: the file lock alone then decides)."""
    name = _guard_name(path)
    if name is None:
        return None
    guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)   # not inherited by child processes
    try:
        guard.bind(name)
        guard.listen(64)
    except OSError as exc:
        guard.close()
        if exc.errno != errno.EADDRINUSE:
            return None
        return _guard_holder(name)
    return guard


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
    return _parse_owner(os.pread(fd, _MAX_INFO, 0) if hasattr(os, "pread") else b"")


def _parse_owner(raw: bytes) -> Owner:
    try:
        info = json.loads(raw.decode("utf-8").strip("\0 \n") or "{}")
    except (UnicodeDecodeError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    pid = info.get("pid")
    return Owner(pid=pid if isinstance(pid, int) else None, kind=str(info.get("kind") or "another process"),
                 started_at=_str_or_none(info.get("started_at")), state=_str_or_none(info.get("state")),
                 phase=_str_or_none(info.get("phase")), health=_str_or_none(info.get("health")))


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def owner_of(runtime_dir: Path, data_key: str) -> Owner | None:
    """The process holding the project's lease, or None when it is free (nobody runs the project). A lease
    held by this very process is reported too (Owner.is_me)."""
    try:
        path = lease_path(runtime_dir, data_key)
    except ValueError:   # a key the app never makes (a damaged store): no lease was ever taken under it
        return None
    try:
        fd = os.open(path, os.O_RDONLY if sys.platform != "win32" else os.O_RDWR)
    except OSError:
        return _guarded(path)
    try:
        if _try_lock(fd, shared=True):
            _unlock(fd)
            return _guarded(path)
        owner = _read_owner(fd)
        for _ in range(_RETRIES):   # caught mid-write: read again
            if owner.pid is not None:
                break
            time.sleep(_RETRY_S)
            owner = _read_owner(fd)
        return owner
    finally:
        os.close(fd)


def _guarded(path: Path) -> Owner | None:
    """The owner known only by the guard (its lock file was removed), or None."""
    name = _guard_name(path)
    return None if name is None else _guard_holder(name)


class Lease:
    """A held lease. `acquire` or LeaseHeld; `release` (or process death) frees it."""

    def __init__(self, path: Path, fd: int, name: str, kind: str, guard: socket.socket | None = None) -> None:
        self.path = path
        self._fd: int | None = fd
        self._guard = guard
        self.name = name
        self.kind = kind
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.state: str | None = None
        self.phase: str | None = None
        self.health: str | None = None
        if guard is not None:
            threading.Thread(target=_answer_probes, args=(guard, self._info), name="lease-guard",
                             daemon=True).start()

    @classmethod
    def acquire(cls, runtime_dir: Path, data_key: str, name: str, kind: str, *, state: str | None = None) -> Lease:
        """Take the project's lease at once, or raise LeaseHeld naming the holder."""
        path = lease_path(runtime_dir, data_key)
        # a reader probing the lease holds a shared lock for microseconds: only a holder that wrote who it
        # is (its pid) is a real owner; retry briefly otherwise. A file removed or replaced between our open
        # and our lock is not the lease: open the one at the path again.
        for attempt in range(_RETRIES + 1):
            fd = _open(path)
            if _try_lock(fd):
                if _same_file(fd, path):
                    break
                _unlock(fd)
                owner = Owner(pid=None, kind="another process")
            else:
                owner = _read_owner(fd)
            os.close(fd)
            if owner.pid is not None or attempt == _RETRIES:
                raise LeaseHeld(name, owner)
            time.sleep(_RETRY_S)
        guard = _take_guard(path)
        if isinstance(guard, Owner):   # its holder runs, though its lock file was removed
            _unlock(fd)
            os.close(fd)
            raise LeaseHeld(name, guard)
        lease = cls(path, fd, name, kind, guard)
        lease.set_state(state)
        return lease

    @property
    def held(self) -> bool:
        return self._fd is not None

    def set_state(self, state: str | None, *, phase: str | None = None, health: str | None = None) -> None:
        """Record the stack's state (starting, running, stopping), with its phase while starting and its
        health while running, for other processes to read."""
        self.state, self.phase, self.health = state, (phase or None) and phase[:_MAX_PHASE], health
        if self._fd is None:
            return
        self._relink()
        text = self._info()
        # the new text over the old, then cut to its length: a reader never sees an empty file, at worst a
        # mix that does not parse (it reads again: owner_of)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, text)
        os.ftruncate(self._fd, len(text))

    def _info(self) -> bytes:
        """What this holder says about itself (in its lock file, and to a probe of its guard)."""
        return json.dumps({"pid": os.getpid(), "kind": self.kind, "name": self.name,
                           "started_at": self.started_at, "state": self.state, "phase": self.phase,
                           "health": self.health}).encode("utf-8")

    def _relink(self) -> None:
        """Put a lock file back at the path when ours was removed (the guard keeps takers out meanwhile)."""
        if self._fd is None or self._guard is None or _same_file(self._fd, self.path):
            return
        try:
            fresh = _open(self.path)
        except OSError:
            return
        if _try_lock(fresh) and _same_file(fresh, self.path):
            old, self._fd = self._fd, fresh
            os.close(old)
        else:
            os.close(fresh)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        guard, self._guard = self._guard, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            _unlock(fd)
        os.close(fd)
        if guard is not None:
            with contextlib.suppress(OSError):
                guard.shutdown(socket.SHUT_RDWR)   # wakes the thread in accept()
            guard.close()

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
