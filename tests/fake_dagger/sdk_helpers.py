"""Helpers for tests that drive the real dagger-io SDK against the fake engine."""

from __future__ import annotations

import io
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TextIO, cast

import anyio
import dagger


class LogCapture(io.TextIOBase):
    """What the SDK forwards from the CLI's stderr (no fileno, so the SDK drains it in a thread)."""

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        with self._lock:
            self._chunks.append(s)
        return len(s)

    def text(self) -> str:
        with self._lock:
            return "".join(self._chunks)


def sdk_config(log: LogCapture | None = None) -> dagger.Config:
    """Config for a test connection: no retries (a dead engine fails at once), logs captured."""
    return dagger.Config(retry=None, log_output=cast(TextIO, log if log is not None else LogCapture()))


async def eventually(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await anyio.sleep(0.02)


def run(body: Callable[[], Awaitable[None]]) -> None:
    anyio.run(body)


def http_get(port: int, path: str = "/", host: str = "127.0.0.1") -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()




def lan_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # picks the outgoing interface; sends nothing
        except OSError:
            return None
        addr = str(s.getsockname()[0])
    return None if addr.startswith("127.") else addr
