"""The project record as stored in SQLite."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlmodel import Field, SQLModel

from cchub_desktop.store.rows import PORT_FIELDS, ProjectStatus

__all__ = ["PORT_FIELDS", "Project", "ProjectStatus", "RetiredData", "new_data_key", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_data_key() -> str:
    """A name for a new project's data that no project had before (random, not derived from its name)."""
    return f"p{secrets.token_hex(6)}"


class Project(SQLModel, table=True):
    """The columns are those of rows.ProjectRow, the quick read without SQLAlchemy (tests check they agree)."""
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
    # fixed at creation and never reused: Dagger volumes and the secrets file are named after it
    # (projects from schema 1 have data_key == slug, so they keep their volumes)
    data_key: str = Field(default_factory=lambda: new_data_key(), unique=True)
    # set once, at the first start that created the secrets: a digest of the secrets file's values
    secrets_fingerprint: str | None = None
    secrets_created_at: datetime | None = None
    # the CommandCenter source this project builds from, pinned at its first start
    source_url: str | None = None
    source_ref: str | None = None
    source_commit: str | None = None
    source_commit_date: datetime | None = None
    # the PostgreSQL image (and its major version) that initialised the project's data volume
    db_image: str | None = None
    db_major: int | None = None
    # the cache volume of its PostgreSQL data once an upgrade moved it; None: cchub-<slug>-pgdata
    db_volume: str | None = None

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
            # the pinned CommandCenter commit (null until the first start pins it)
            "source_url": self.source_url, "source_ref": self.source_ref,
            "source_commit": self.source_commit,
            "source_commit_short": self.source_commit[:7] if self.source_commit else None,
            "source_commit_date": self.source_commit_date.isoformat() if self.source_commit_date else None,
        }


class RetiredData(SQLModel, table=True):
    """Data a removed project left behind (its volumes and secrets were kept): offered for adoption only
    when the user asks, never handed to a new project by name. A row with `volume` set is one database
    volume an upgrade left behind (data_key "volume:<name>", db_image/db_major what initialised it): kept
    until the user deletes it."""
    __tablename__ = "retired_data"

    data_key: str = Field(primary_key=True)
    name: str
    name_key: str
    path: str
    removed_at: datetime = Field(default_factory=utcnow)
    secrets_fingerprint: str | None = None
    db_image: str | None = None
    db_major: int | None = None
    db_volume: str | None = None   # a removed project's database volume when an upgrade had moved it
    volume: str | None = None
