"""The phases a stack start goes through, in order, as reported to `on_phase`."""

from __future__ import annotations

from enum import StrEnum


class StackPhase(StrEnum):
    ENGINE = "engine"
    SOURCE = "source"
    BACKEND_BUILD = "backend_build"
    FRONTEND_BUILD = "frontend_build"
    POSTGRES = "postgres"
    REDIS = "redis"
    NATS = "nats"
    BACKEND = "backend"
    WORKER = "worker"
    BEAT = "beat"
    FRONTEND = "frontend"
    TUNNELS = "tunnels"
    HEALTHY = "healthy"
