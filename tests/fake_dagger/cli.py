"""The `dagger` command line of the fake engine: `dagger version` and `dagger session ...`.

`dagger session` works like the real CLI as the SDK drives it: serve the API on 127.0.0.1 (random
port and token), print `{"port": ..., "session_token": ...}` on stdout, write progress to stderr, and
end when stdin closes (the SDK closes it to end the session; if the SDK's process dies, the OS closes
it). SIGTERM ends the session the same way. SIGINT is ignored: a Ctrl+C in a terminal reaches the
whole process group, and the client, not the engine, decides when its session ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sys
import threading
from types import FrameType

from .faults import FaultConfigError, Faults, faults_from_env

VERSION_LINE = "dagger v0.21.11 (fake engine for tests) {os}/{arch}"
USAGE = "usage: dagger session [--label KEY:VALUE]... [--workdir DIR] [--project DIR] | dagger version"


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    return code


def _parse_session_args(argv: list[str]) -> dict[str, object]:
    labels: dict[str, str] = {}
    opts: dict[str, object] = {"labels": labels}
    it = iter(argv)
    for arg in it:
        if arg in {"--label", "--workdir", "--project"}:
            value = next(it, None)
            if value is None:
                raise ValueError(f"flag needs an argument: {arg}")
            if arg == "--label":
                key, _, val = value.partition(":")
                labels[key] = val
            else:
                opts[arg[2:]] = value
        elif arg == "--load-workspace-modules":
            opts["load_workspace_modules"] = True
        else:
            raise ValueError(f"unknown flag: {arg}")
    return opts


def main(argv: list[str]) -> int:
    if argv[:1] in (["version"], ["--version"]):
        uname = os.uname()
        print(VERSION_LINE.format(os=uname.sysname.lower(), arch={"x86_64": "amd64", "aarch64": "arm64"}.get(
            uname.machine, uname.machine)))
        return 0
    if argv[:1] != ["session"]:
        return _fail(f"Error: unknown command {' '.join(argv)!r} for the fake dagger CLI\n{USAGE}")
    try:
        opts = _parse_session_args(argv[1:])
        faults = faults_from_env(os.environ)
    except (ValueError, FaultConfigError) as e:
        return _fail(f"Error: {e}\n{USAGE}")
    if faults.exit_at_start:
        return _fail(faults.exit_at_start)
    return run_session(argv, opts, faults)


def run_session(argv: list[str], opts: dict[str, object], faults: Faults) -> int:
    from .execs import load_hook
    from .journal import JournalWriter
    from .progress import PlainProgress
    from .schema import schema
    from .server import EngineHTTPServer
    from .session import Session

    journal = JournalWriter(os.environ.get("FAKE_DAGGER_JOURNAL_DIR"))
    try:
        hook = load_hook(faults.exec_hook)
    except (OSError, ValueError, SyntaxError) as e:
        return _fail(f"Error: {e}")
    progress = PlainProgress(sys.stderr)
    session = Session(faults, journal, progress, hook)
    schema()  # build before answering, so the first request is fast
    server = EngineHTTPServer(session, secrets.token_urlsafe(24))
    server.start()
    done = threading.Event()
    reason = {"value": "stdin closed"}

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        reason["value"] = "SIGTERM"
        done.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    journal.write("session", event="start", argv=argv, labels=opts["labels"], port=server.port,
                  workdir=opts.get("workdir"), faults=faults.describe(), env={
                      k: os.environ.get(k) for k in ("DAGGER_PROGRESS", "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
                                                     "DAGGER_CLOUD_TOKEN", "NO_COLOR")
                  } | {"DAGGER_CLOUD_TOKEN": "set" if os.environ.get("DAGGER_CLOUD_TOKEN") else None})
    if faults.die_after is not None:
        timer = threading.Timer(faults.die_after, session.crash, args=(f"FAKE_DAGGER_DIE_AFTER={faults.die_after}",))
        timer.daemon = True
        timer.start()
    if faults.session_delay:
        done.wait(faults.session_delay)
    connect = progress.open("connect")
    runner = os.environ.get("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
    dead = runner.startswith("unix://") and not _socket_answers(runner.removeprefix("unix://"))
    if faults.connect_hang or dead:
        # as the real CLI (v0.21.8, docs/real-engine.md) with a runner socket nothing listens on, or one that
        # accepts but never answers: it keeps connecting, never hands the SDK a session, and ignores SIGTERM
        # and its stdin closing; only SIGKILL ends it
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        progress.log(connect, f"connecting to engine {runner}: " + ("connection refused; retrying" if dead
                                                                  else "waiting for the runner to answer"))
        threading.Event().wait()
    progress.log(connect, f"engine name=fake-engine version=v0.21.11 client={secrets.token_hex(8)}")
    raw_bytes = os.environ.get("FAKE_DAGGER_STDERR_BYTES", "").strip()
    if raw_bytes:   # output that is not UTF-8; like the real CLI, die when stderr is broken (EPIPE)
        progress.on_broken = lambda: os._exit(2)
        progress.raw(bytes.fromhex(raw_bytes))
    progress.close(connect)
    try:
        sys.stdout.write(json.dumps({"port": server.port, "session_token": server.token}) + "\n")
        sys.stdout.flush()
    except OSError:
        reason["value"] = "stdout closed"
        done.set()

    def wait_stdin() -> None:
        try:
            while sys.stdin.buffer.read(65536):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    threading.Thread(target=wait_stdin, name="stdin", daemon=True).start()
    done.wait()
    session.shutting_down.set()  # in-flight starts, execs and up() calls return now
    server.wait_idle(timeout=3.0)
    server.stop()
    session.services.stop_all()
    journal.write("session", event="end", reason=reason["value"])
    journal.close()
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(0)  # request threads may still be parked in Service.up; don't wait for them


def _socket_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(path)
    except OSError:
        return False
    return True
