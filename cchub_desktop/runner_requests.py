"""Requests to a running runner, for the jobs that need its Dagger session (a backup of a running project: its
database lives only there; a restart of one of its services). No Qt, no Dagger.

A client writes a request file beside the project's lease (`runner-<key>.request`, 0600, atomic) and sends
the runner SIGUSR1; the runner does the job in its session and writes the reply (`runner-<key>.reply`) with
the request's id. One request at a time per project: the project's lease is held by the runner, and a
client waits for its reply before it sends another (a newer request replaces an unanswered one).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
from pathlib import Path
from typing import Any

from cchub_desktop.atomic_files import write_private
from cchub_desktop.safe_names import checked_key

SUPPORTED = hasattr(signal, "SIGUSR1")
RESTART_JOB = "restart:"   # + a service's name: restart it (and what binds it) in the runner's session


def request_file(runtime_dir: Path, data_key: str) -> Path:
    return Path(runtime_dir) / f"runner-{checked_key(data_key)}.request"


def reply_file(runtime_dir: Path, data_key: str) -> Path:
    return Path(runtime_dir) / f"runner-{checked_key(data_key)}.reply"


def send(runtime_dir: Path, data_key: str, pid: int, job: str) -> str:
    """Ask the runner `pid` to do `job`; the request's id. OSError (ProcessLookupError: it has ended)."""
    request_id = secrets.token_hex(16)
    reply_file(runtime_dir, data_key).unlink(missing_ok=True)
    write_private(request_file(runtime_dir, data_key),
                  json.dumps({"id": request_id, "job": job}).encode("utf-8"))
    os.kill(pid, signal.SIGUSR1)
    return request_id


def read_request(runtime_dir: Path, data_key: str) -> dict[str, Any] | None:
    """(the runner) The request waiting, taken (the file is removed), or None."""
    path = request_file(runtime_dir, data_key)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        path.unlink(missing_ok=True)
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None


def answer(runtime_dir: Path, data_key: str, request_id: str, **reply: str) -> None:
    """(the runner) The reply to request `request_id`: path=... (a backup), done=... (a restart) or error=..."""
    write_private(reply_file(runtime_dir, data_key),
                  json.dumps({"id": request_id, **reply}).encode("utf-8"))


def read_reply(runtime_dir: Path, data_key: str, request_id: str, *, take: bool = False) -> dict[str, Any] | None:
    """The runner's reply to `request_id`, or None while it works on it. `take`: the reply is removed once read
    (the client that asked is the only reader: nothing is left in the runtime folder)."""
    path = reply_file(runtime_dir, data_key)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("id") != request_id:
        return None
    if take:
        with contextlib.suppress(OSError):
            path.unlink()
    return raw


def discard_request(runtime_dir: Path, data_key: str) -> None:
    """(the runner, as it closes) A request that came too late to be served: removed (its client sees the
    runner end)."""
    with contextlib.suppress(OSError):
        request_file(runtime_dir, data_key).unlink()
