"""HTTP health checks through the host tunnels: the engine's own check only proves a port accepts
connections; the user needs the backend's /health and the frontend's page to answer."""

from __future__ import annotations

import asyncio
import contextlib
import time

ATTEMPT_TIMEOUT = 5.0
RETRY_INTERVAL = 0.5


async def http_status(host: str, port: int, path: str, timeout: float = ATTEMPT_TIMEOUT) -> int | None:
    """The HTTP status of GET http://host:port/path, or None when nothing answers in time."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"
                         "User-Agent: cchub-desktop\r\n\r\n".encode("ascii"))
            await writer.drain()
            status_line = await reader.readline()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    parts = status_line.decode("latin-1").split()
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


async def wait_healthy(port: int, path: str, deadline_s: float, host: str = "127.0.0.1") -> int | None:
    """Poll until GET answers 2xx/3xx; returns that status, or the last one seen (None when nothing
    answered) once `deadline_s` has passed."""
    deadline = time.monotonic() + deadline_s
    last: int | None = None
    while True:
        last = await http_status(host, port, path)
        if is_healthy(last):
            return last
        if time.monotonic() >= deadline:
            return last
        await asyncio.sleep(RETRY_INTERVAL)


def is_healthy(status: int | None) -> bool:
    return status is not None and 200 <= status < 400
