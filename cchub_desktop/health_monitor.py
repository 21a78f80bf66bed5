"""Live health of a running stack, for the window's Health column: the backend's /health and the frontend's
page, asked over the host ports every few seconds. No Qt here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cchub_desktop.stack.health import http_status, is_healthy

HEALTHY = "healthy"
HEALTH_INTERVAL = 10.0


async def probe(backend_port: int, frontend_port: int, host: str = "127.0.0.1") -> str:
    """'healthy', or what does not answer as it should ("backend answers HTTP 500; frontend not answering")."""
    backend, frontend = await asyncio.gather(http_status(host, backend_port, "/health"),
                                             http_status(host, frontend_port, "/"))
    problems = [f"{name} answers HTTP {status}" if status is not None else f"{name} not answering"
                for name, status in (("backend", backend), ("frontend", frontend)) if not is_healthy(status)]
    return "; ".join(problems) or HEALTHY


def service_health(verdict: str | None, service: str) -> str:
    """One service's part of a verdict of `probe`: "healthy", "not answering", "answers HTTP 500"; "" for a
    service this monitor does not ask (the engine checked its port once, at the start)."""
    if service not in ("backend", "frontend"):
        return ""
    for problem in (verdict or HEALTHY).split("; "):
        if problem.startswith(f"{service} "):
            return problem.removeprefix(f"{service} ")
    return HEALTHY


async def watch_health(backend_port: int, frontend_port: int, on_change: Callable[[str], None],
                       interval: float = HEALTH_INTERVAL) -> None:
    """Probe every `interval` seconds until cancelled; call `on_change` when the verdict changes."""
    last = HEALTHY  # the start itself ended with a passing health check
    while True:
        await asyncio.sleep(interval)
        verdict = await probe(backend_port, frontend_port)
        if verdict != last:
            last = verdict
            on_change(verdict)
