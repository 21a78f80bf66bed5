"""The single-instance hand-over without Qt: the socket name, the one-line request, and a plain-socket client.

The running app listens with a QLocalServer (ui/single_instance.py); its protocol is defined here once: the
name is derived from the user and the data folder, a request is one JSON line (`{"action": "show", "start":
[...]}`), the reply is "ok" or "error". `hand_over_early()` is what a second launch does before it imports
anything heavy (`__main__`): on POSIX a QLocalServer with a plain name listens on a Unix socket in
QDir::tempPath() ($TMPDIR, else /tmp), so the stdlib reaches it in a few milliseconds. When nothing answers
there, the launch goes on and the lock in ui/single_instance.py decides (a first app still starting up holds
the lock before it listens).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cchub_desktop import APP_ID
from cchub_desktop.paths import AppPaths

MAX_MESSAGE = 64 * 1024
EARLY_TIMEOUT_S = 2.0


def server_name(paths: AppPaths) -> str:
    """A local-socket name unique to this user and data folder (short enough for any platform)."""
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


@dataclass(frozen=True)
class HandoverRequest:
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


def socket_path(paths: AppPaths) -> Path | None:
    """Where the running app's QLocalServer listens on POSIX (QDir::tempPath() joined with the name)."""
    if sys.platform == "win32":  # a named pipe there: the Qt client in ui/single_instance.py handles it
        return None
    return Path(os.environ.get("TMPDIR") or "/tmp") / server_name(paths)


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
