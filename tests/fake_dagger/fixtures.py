"""pytest fixtures for the fake engine. In tests/conftest.py:

    from fake_dagger.fixtures import fake_dagger_env, port_block  # noqa: F401
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import cli_path
from .journal import Journal
from .volumes import PgVolumes

PASSTHROUGH = ("FAKE_DAGGER_JOURNAL_DIR", "FAKE_DAGGER_PYTHON")


@dataclass
class FakeDagger:
    cli_path: Path
    journal_dir: Path
    journal: Journal
    monkeypatch: pytest.MonkeyPatch

    def set(self, **knobs: str | float | None) -> None:
        """Set FAKE_DAGGER_<NAME> for sessions started from now on; None removes it."""
        for name, value in knobs.items():
            var = "FAKE_DAGGER_" + name.upper()
            if value is None:
                self.monkeypatch.delenv(var, raising=False)
            else:
                self.monkeypatch.setenv(var, str(value))

    def env(self) -> dict[str, str]:
        """The environment variables a subprocess needs to use the fake engine (with current knobs)."""
        keep = {k: v for k, v in os.environ.items() if k.startswith("FAKE_DAGGER_")}
        return {"_EXPERIMENTAL_DAGGER_CLI_BIN": str(self.cli_path), **keep}

    def keep_volumes(self) -> PgVolumes:
        """From now on PostgreSQL data volumes persist across sessions (volumes.py): seed and read them
        with the returned PgVolumes."""
        root = self.journal_dir.parent / "fake-dagger-volumes"
        root.mkdir(exist_ok=True)
        self.set(volumes_dir=str(root))
        return PgVolumes(str(root))

    def sessions_exited(self, timeout: float = 10.0) -> None:
        self.journal.wait_sessions_exited(timeout)


@pytest.fixture
def fake_dagger_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDagger]:
    """The real SDK, from this test, runs the fake `dagger` CLI; each session journals to a temp dir."""
    for var in list(os.environ):
        if var.startswith("FAKE_DAGGER_") and var not in PASSTHROUGH:
            monkeypatch.delenv(var)
    for var in ("DAGGER_SESSION_PORT", "DAGGER_SESSION_TOKEN", "_EXPERIMENTAL_DAGGER_RUNNER_HOST"):
        monkeypatch.delenv(var, raising=False)
    journal_dir = tmp_path / "fake-dagger-journal"
    journal_dir.mkdir()
    path = cli_path()
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(path))
    monkeypatch.setenv("FAKE_DAGGER_JOURNAL_DIR", str(journal_dir))
    monkeypatch.setenv("FAKE_DAGGER_PYTHON", sys.executable)
    fake = FakeDagger(path, journal_dir, Journal(journal_dir), monkeypatch)
    yield fake
    try:
        fake.sessions_exited(timeout=10.0)
    except AssertionError:
        left = [s.pid for s in fake.journal.sessions() if not s.exited]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(
            f"fake engine session process(es) {left} still running after the test: a dagger connection "
            "was not closed (they have been killed)"
        ) from None


# -- free ports ---------------------------------------------------------------------------------------------
_handed_out: set[int] = set()
_ports_lock = threading.Lock()
PORT_RANGE = (20000, 32000)  # below Linux's ephemeral range (32768-60999), above common services


def port_is_free(port: int) -> bool:
    """A new listener could bind the port (no SO_REUSEADDR), on loopback and on all interfaces."""
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free right now on 127.0.0.1 and 0.0.0.0, never handed out before here."""
    rng = random.Random()
    picked: list[int] = []
    with _ports_lock:
        for _ in range(5000):
            port = rng.randrange(*PORT_RANGE)
            if port in _handed_out or port in picked or not port_is_free(port):
                continue
            picked.append(port)
            if len(picked) == n:
                _handed_out.update(picked)
                return picked
    raise RuntimeError(f"could not find {n} free ports in {PORT_RANGE}")


@dataclass(frozen=True)
class FreePortBlock:
    backend: int
    frontend: int
    postgres: int
    redis: int

    def as_dict(self) -> dict[str, int]:
        return {"backend": self.backend, "frontend": self.frontend, "postgres": self.postgres,
                "redis": self.redis}


def free_port_block() -> FreePortBlock:
    """Four free ports for one project (backend, frontend, postgres, redis)."""
    return FreePortBlock(*free_ports(4))


@pytest.fixture
def port_block() -> FreePortBlock:
    return free_port_block()
