"""Fault injection and timing knobs, read once from the environment when a session starts.

See README.md for the list. A malformed value makes the CLI exit 1 at once, saying which variable is
wrong, so a typo in a test shows up as a failure instead of a silently healthy engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DOCKER_NOT_RUNNING = (
    "Error: failed to connect to the engine: failed to start the engine: failed to run container: "
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)


class FaultConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ExecFailRule:
    substring: str
    exit_code: int
    stderr: str

    def matches(self, command: list[str]) -> bool:
        return self.substring in " ".join(command)


@dataclass(frozen=True)
class DieOn:
    type_name: str | None
    field_name: str
    nth: int = 1

    def matches(self, type_name: str, field_name: str) -> bool:
        return field_name == self.field_name and self.type_name in (None, type_name)


@dataclass(frozen=True)
class Faults:
    exit_at_start: str | None = None
    die_after: float | None = None
    die_on: DieOn | None = None
    exec_fail: tuple[ExecFailRule, ...] = ()
    image_missing: frozenset[str] = frozenset()
    git_fail: str | None = None
    git_revision: int = 0
    start_delay: float = 0.0
    exec_delay: float = 0.0
    exec_tail_delay: float = 0.0
    session_delay: float = 0.0
    connect_hang: bool = False
    engine_ca: bool = False
    health_status: int = 200
    log_interval: float = 0.5
    log_lines: int = 1
    exec_hook: str | None = None
    quiet_execs: bool = False
    raw: dict[str, str] = field(default_factory=dict)

    def exec_failure(self, command: list[str]) -> ExecFailRule | None:
        return next((r for r in self.exec_fail if r.matches(command)), None)

    def describe(self) -> dict[str, Any]:
        return dict(self.raw)


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FaultConfigError(f"{name}={raw!r}: expected a number of seconds") from None
    if value < minimum:
        raise FaultConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _exec_rules(raw: str) -> tuple[ExecFailRule, ...]:
    rules = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        parts = line.split(":", 2)
        if len(parts) < 2 or not parts[0]:
            raise FaultConfigError(
                f"FAKE_DAGGER_EXEC_FAIL={line!r}: expected '<command substring>:<exit code>[:<stderr text>]'"
            )
        try:
            code = int(parts[1])
        except ValueError:
            raise FaultConfigError(f"FAKE_DAGGER_EXEC_FAIL={line!r}: exit code {parts[1]!r} is not a number") \
                from None
        stderr = parts[2].replace("\\n", "\n") if len(parts) > 2 else ""
        rules.append(ExecFailRule(parts[0], code, stderr))
    return tuple(rules)


def _die_on(raw: str) -> DieOn | None:
    raw = raw.strip()
    if not raw:
        return None
    name, _, count = raw.partition(":")
    type_name, _, field_name = name.rpartition(".")
    try:
        nth = int(count) if count else 1
    except ValueError:
        raise FaultConfigError(f"FAKE_DAGGER_DIE_ON={raw!r}: expected '[Type.]field[:n]'") from None
    if not field_name or nth < 1:
        raise FaultConfigError(f"FAKE_DAGGER_DIE_ON={raw!r}: expected '[Type.]field[:n]'")
    return DieOn(type_name or None, field_name, nth)


def faults_from_env(env: Mapping[str, str]) -> Faults:
    raw = {k: v for k, v in env.items() if k.startswith("FAKE_DAGGER_") and k != "FAKE_DAGGER_PYTHON"}
    exit_at_start = env.get("FAKE_DAGGER_EXIT_AT_START", "").strip()
    git_fail = env.get("FAKE_DAGGER_GIT_FAIL", "").strip()
    health = env.get("FAKE_DAGGER_HEALTH_STATUS", "").strip() or "200"
    lines = env.get("FAKE_DAGGER_LOG_LINES", "").strip() or "1"
    if not health.isdigit() or not 100 <= int(health) <= 599:
        raise FaultConfigError(f"FAKE_DAGGER_HEALTH_STATUS={health!r}: expected an HTTP status code")
    if not lines.isdigit():
        raise FaultConfigError(f"FAKE_DAGGER_LOG_LINES={lines!r}: expected a whole number")
    die_after = _float(env, "FAKE_DAGGER_DIE_AFTER", -1.0, minimum=-1.0)
    return Faults(
        exit_at_start=(DOCKER_NOT_RUNNING if exit_at_start == "1" else exit_at_start) or None,
        die_after=die_after if die_after >= 0 else None,
        die_on=_die_on(env.get("FAKE_DAGGER_DIE_ON", "")),
        exec_fail=_exec_rules(env.get("FAKE_DAGGER_EXEC_FAIL", "")),
        image_missing=frozenset(i.strip() for i in env.get("FAKE_DAGGER_IMAGE_MISSING", "").split(",")
                                if i.strip()),
        git_fail=(git_fail if git_fail != "1" else "exit status 128") or None,
        git_revision=int(_float(env, "FAKE_DAGGER_GIT_REVISION", 0.0)),
        start_delay=_float(env, "FAKE_DAGGER_START_DELAY", 0.0),
        exec_delay=_float(env, "FAKE_DAGGER_EXEC_DELAY", 0.0),
        exec_tail_delay=_float(env, "FAKE_DAGGER_EXEC_TAIL_DELAY", 0.0),
        session_delay=_float(env, "FAKE_DAGGER_SESSION_DELAY", 0.0),
        connect_hang=env.get("FAKE_DAGGER_CONNECT_HANG", "").strip() == "1",
        engine_ca=env.get("FAKE_DAGGER_ENGINE_CA", "").strip() == "1",
        health_status=int(health),
        log_interval=_float(env, "FAKE_DAGGER_LOG_INTERVAL", 0.5),
        log_lines=int(lines),
        exec_hook=env.get("FAKE_DAGGER_EXEC_HOOK", "").strip() or None,
        quiet_execs=env.get("FAKE_DAGGER_QUIET_EXECS", "").strip() == "1",
        raw=raw,
    )
