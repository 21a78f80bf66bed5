"""Small helpers shared by tests: free port blocks and waiting without sleeping blindly."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from typing import IO

import pytest

from cchub_desktop import ports


def in_ci() -> bool:
    """True in CI (CI=true, as CI services and .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_unless_tools(*tools: str, package: str) -> None:
    """Skip a test that needs programs this machine lacks, except in CI: CI installs them (.ci/run), so a
    missing one there is a failure, never a check silently dropped."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (Debian packages: {package})"
    if in_ci():
        pytest.fail(f"{message}, and CI installs them: .ci/run is incomplete or failed")
    pytest.skip(message)


def listen_on(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A real listener holding `port`, as another program on the machine would."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen()
    return sock


def closed_port_url() -> str:
    """http://127.0.0.1:PORT where nothing listens: a proxy that refuses at once, for "no network"."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{closed.getsockname()[1]}"


def free_block_number(start: int = 100, count: int = 1) -> int:
    """A block number n such that blocks n..n+count-1 are entirely free on this machine (all 4 ports)."""
    for n in range(start, ports.max_block() - count):
        if all(ports.is_port_free(p) for k in range(count) for p in ports.block(n + k).as_dict().values()):
            return n
    raise RuntimeError("no free port block for the test")


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll `condition` until true; fail after `timeout` seconds. For non-Qt tests (Qt tests use qtbot)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class LineReader:
    """A process's output lines, collected by a thread so that waiting never blocks on a silent process."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


def key_of(name: str) -> str:
    """The data key of the stored project `name`: what its volumes, secrets and logs are named after."""
    from cchub_desktop.paths import app_paths
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(app_paths().db_file)
    try:
        return store.get_by_name(name).data_key
    finally:
        store.close()
