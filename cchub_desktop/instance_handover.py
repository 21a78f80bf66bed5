"""The single-instance hand-over without Qt: the socket name, the one-line request, and a plain-socket client.

The running app listens in ui/single_instance.py (a Unix socket on POSIX, a QLocalServer's named pipe on
Windows); its protocol is defined here once: the name is derived from the user and the data folder, a request
is one JSON line (`{"action": "show", "start": [...]}`), the reply is "ok" or "error". `hand_over_early()` is
what a second launch does before it imports anything heavy (`__main__`): on POSIX the app listens on a Unix
socket in a folder only the user can use (`cchub-desktop-<uid>` in the temp folder, 0700 and checked to be the
user's, else the runtime folder), so no other user can put a socket where the app looks for one; and both ends
check that the process at the other end is the user's (SO_PEERCRED, on Linux). The stdlib reaches it in a few
milliseconds. When nothing answers there, the launch goes on and the lock in ui/single_instance.py decides (a
first app still starting up holds the lock before it listens).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import stat
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cchub_desktop import APP_ID
from cchub_desktop.paths import AppPaths

MAX_MESSAGE = 64 * 1024
EARLY_TIMEOUT_S = 2.0


def server_name(paths: AppPaths) -> str:
    """A local-socket name unique to this user and data folder (short enough for any platform)."""
    import getpass  # Windows only (a pipe name): not on a second launch's path on POSIX

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid
        user = "user"
    safe_user = re.sub(r"[^A-Za-z0-9_.-]", "_", user)[:32] or "user"
    digest = hashlib.sha256(f"{user}\0{paths.data_dir}".encode()).hexdigest()[:16]
    return f"{APP_ID}-{safe_user}-{digest}"


def encode_request(start: Sequence[str] = (), *, stop: Sequence[str] = (), show: bool = True) -> bytes:
    """A request line: raise the window (`show`) and start/stop the named projects. `cchub start/stop` send
    show=false: the window streams the stack without jumping in front of the terminal."""
    return json.dumps({"action": "show" if show else "lifecycle", "start": list(start),
                       "stop": list(stop)}).encode() + b"\n"


class HandoverRequest(NamedTuple):   # not a dataclass: see paths.AppPaths
    start: list[str]
    stop: list[str]
    show: bool


def parse_request(line: bytes) -> HandoverRequest | None:
    """The request in one line; None for anything that is not a valid request."""
    try:
        request: Any = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(request, dict) or request.get("action") not in ("show", "lifecycle"):
        return None
    names: dict[str, list[str]] = {}
    for key in ("start", "stop"):
        value = request.get(key, [])
        if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
            return None
        names[key] = list(value)
    return HandoverRequest(start=names["start"], stop=names["stop"], show=request["action"] == "show")


def _is_private_folder(folder: Path) -> bool:
    """A real folder (not a link) owned by this user that no one else can write to or enter."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def socket_folder(paths: AppPaths, *, create: bool = False) -> Path:
    """The user's private folder for the socket: `cchub-desktop-<uid>` in the temp folder when it is the
    user's own (created 0700 when `create`), else the runtime folder (0700 too)."""
    shared = Path(tempfile.gettempdir()) / f"{APP_ID}-{os.getuid()}"
    if create:
        with contextlib.suppress(OSError):
            shared.mkdir(mode=0o700)
    if _is_private_folder(shared):
        return shared
    return paths.runtime_dir


def socket_path(paths: AppPaths, *, create: bool = False) -> Path | None:
    """Where the running app listens on POSIX (None on Windows: a named pipe there, which the Qt client in
    ui/single_instance.py handles)."""
    if sys.platform == "win32":
        return None
    digest = hashlib.sha256(f"{os.getuid()}\0{paths.data_dir}".encode()).hexdigest()[:16]
    return socket_folder(paths, create=create) / f"instance-{digest}"


def peer_is_me(fd: int) -> bool:
    """The process at the other end of this connected Unix socket runs as this user (True where the OS
    cannot tell: the private folder is the guard there)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    sock = socket.socket(fileno=os.dup(fd))
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    finally:
        sock.close()
    _pid, uid, _gid = struct.unpack("3i", raw)
    return bool(uid == os.getuid())


def hand_over_early(paths: AppPaths, start: Sequence[str] = (), timeout_s: float = EARLY_TIMEOUT_S) -> bool:
    """True when a running app of this user and data folder confirmed it raised its window (and will start
    `start`); False when none listens or it did not confirm (the caller then goes the long way)."""
    return send_request(paths, encode_request(start), timeout_s)


def send_request(paths: AppPaths, message: bytes, timeout_s: float = EARLY_TIMEOUT_S) -> bool:
    """Send one request line to the running app; True once it answered "ok"."""
    path = socket_path(paths)
    if path is None or not path.exists():
        return False
    deadline = time.monotonic() + timeout_s
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            if not peer_is_me(sock.fileno()):   # another user's socket: never tell it anything
                return False
            sock.sendall(message)
            reply = b""
            while b"\n" not in reply and len(reply) < MAX_MESSAGE and time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
    except OSError:  # refused (a socket file left by a crash), timed out, or not ours to open
        return False
    return reply.startswith(b"ok")
