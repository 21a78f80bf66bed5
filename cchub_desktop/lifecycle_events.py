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


# the same phases in a word or two, for a table cell: "Starting: backend build" fits where the full text
# (with a build's current step and elapsed time) would be cut; the full text is one hover away
PHASE_WORDS: dict[str, str] = {
    "engine": "engine",
    "source": "source",
    "backend_build": "backend build",
    "frontend_build": "frontend build",
    "postgres": "PostgreSQL",
    "redis": "Redis",
    "backend": "backend",
    "frontend": "frontend",
    "tunnels": "ports",
    "healthy": "healthy",
}


def phase_words(phase: str | None) -> str:
    """A phase in a word or two ("backend build"), without a build's step or elapsed time."""
    if not phase:
        return ""
    phase = phase.partition("|")[0]
    return PHASE_WORDS.get(phase, phase.replace("_", " "))


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
