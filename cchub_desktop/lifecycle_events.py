"""What the orchestrator tells its listeners: OrchestratorEvent, the active states, and each start phase in
the words a user reads. No Qt here."""

from __future__ import annotations

from dataclasses import dataclass

from cchub_desktop.store import ProjectStatus

ACTIVE = frozenset({ProjectStatus.STARTING, ProjectStatus.RUNNING, ProjectStatus.STOPPING})
PHASE_TEXT: dict[str, str] = {
    "engine": "connecting to Dagger",
    "source": "fetching the source",
    "backend_build": "building the backend",
    "frontend_build": "building the frontend",
    "postgres": "starting PostgreSQL",
    "redis": "starting Redis",
    "nats": "starting NATS",
    "backend": "starting the backend",
    "worker": "starting the Celery worker",
    "beat": "starting Celery beat",
    "frontend": "starting the frontend",
    "tunnels": "opening the ports",
    "healthy": "healthy",
}


def phase_text(phase: str | None) -> str:
    """A phase as a user reads it ("building the backend")."""
    if not phase:
        return ""
    phase, bar, detail = phase.partition("|")   # "backend_build|pip: downloading torch · 1:12" (build progress)
    text = PHASE_TEXT.get(phase, phase.replace("_", " "))
    return f"{text} ({detail})" if bar and detail else text


@dataclass(frozen=True)
class OrchestratorEvent:
    project_id: int
    status: ProjectStatus
    phase: str | None
    message: str | None
    health: str | None = None  # while running: "healthy" or what does not answer (health_monitor.py)
    notice: str | None = None  # a request refused because another process owns the project (lease.py)
