"""The project record as stored in SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class ProjectStatus(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"


def utcnow() -> datetime:
    return datetime.now(UTC)


PORT_FIELDS = ("backend_port", "frontend_port", "postgres_port", "redis_port")


class Project(SQLModel, table=True):
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    # casefolded name; a unique index on it makes names unique case-insensitively
    name_key: str = Field(unique=True)
    # fixed at creation: Dagger cache volumes (the project's database) are named after it
    slug: str = Field(unique=True)
    path: str
    backend_port: int = Field(unique=True)
    frontend_port: int = Field(unique=True)
    postgres_port: int = Field(unique=True)
    redis_port: int = Field(unique=True)
    expose_db: bool = False
    status: str = ProjectStatus.STOPPED.value
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_started_at: datetime | None = None
    last_stopped_at: datetime | None = None

    def ports(self) -> dict[str, int]:
        return {"backend": self.backend_port, "frontend": self.frontend_port,
                "postgres": self.postgres_port, "redis": self.redis_port}

    def to_public_dict(self) -> dict[str, object]:
        """The fields `cchub list --json` prints."""
        return {
            "name": self.name, "slug": self.slug, "path": self.path,
            "backend_port": self.backend_port, "frontend_port": self.frontend_port,
            "postgres_port": self.postgres_port, "redis_port": self.redis_port,
            "expose_db": self.expose_db, "status": self.status, "last_error": self.last_error,
        }
