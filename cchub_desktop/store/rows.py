"""The projects read with the stdlib's sqlite3 alone: what `cchub list` and a first paint need, without
importing SQLAlchemy/SQLModel (~300-400 ms).

One schema: the table is created by migrations.py; `ProjectRow` has exactly its columns, which is also
exactly the fields of the SQLModel `Project` (models.py) — tests/test_store_rows.py checks all three agree.
The quick read is used only when the database is at the schema this app writes; otherwise (no file yet, an
older schema to migrate, a newer one to refuse) the caller opens `ProjectStore`, which migrates or explains.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from cchub_desktop.store.migrations import EMPTY_FILE, LATEST_VERSION, current_version, private_database

PORT_FIELDS = ("backend_port", "frontend_port", "postgres_port", "redis_port")


class ProjectStatus(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"


class StoreError(RuntimeError):
    """The database cannot be used: `kind` is one of locked, readonly, corrupt, newer, unavailable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def describe_db_error(db_file: Path, exc: BaseException) -> StoreError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreError("locked", f"The project database {db_file} is locked by another program. "
                                    "Close other CommandCenter Hub windows or `cchub` commands and try again.")
    if "readonly" in text or "read-only" in text:
        return StoreError("readonly", f"The project database {db_file} is read-only. "
                                      "Check the file's permissions and the free disk space.")
    if EMPTY_FILE in text:
        return StoreError("corrupt", f"The project database {db_file} is empty (0 bytes): any projects it held "
                                     "are gone from it (a full disk or a copy cut off does this). Restore a backup "
                                     "or start with a fresh database (the empty file is kept).")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError("corrupt", f"The project database {db_file} is damaged. Restore a backup "
                                     "or start with a fresh database (the damaged file is kept).")
    if "newer" in text:
        return StoreError("newer", str(exc))
    cause = _folder_problem(Path(db_file).parent)
    if cause is not None:   # "disk I/O error", "unable to open database file": say what is really wrong
        return StoreError("unavailable", f"The project database {db_file} cannot be written: {cause}.")
    return StoreError("unavailable", f"The project database {db_file} cannot be opened: {exc}")


def _folder_problem(folder: Path) -> str | None:
    """Why nothing can be written in the database's folder (no space, read-only, not allowed), or None."""
    import os
    import shutil

    try:
        if shutil.disk_usage(folder).free < 64 * 1024:
            return f"no space left on the device of {folder}; free some space and try again"
        if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1):
            return f"{folder} is on a read-only file system; make it writable or set CCHUB_HOME elsewhere"
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return f"{folder} is not writable by you; fix its permissions or set CCHUB_HOME elsewhere"
    return None


@dataclass(frozen=True)
class ProjectRow:
    """One row of the `project` table, every column, as stored."""

    id: int
    name: str
    name_key: str
    slug: str
    path: str
    backend_port: int
    frontend_port: int
    postgres_port: int
    redis_port: int
    expose_db: bool
    status: str
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    last_started_at: datetime | None
    last_stopped_at: datetime | None
    data_key: str
    secrets_fingerprint: str | None
    secrets_created_at: datetime | None
    source_url: str | None
    source_ref: str | None
    source_commit: str | None
    source_commit_date: datetime | None
    db_image: str | None
    db_major: int | None
    db_volume: str | None

    def ports(self) -> dict[str, int]:
        return {"backend": self.backend_port, "frontend": self.frontend_port,
                "postgres": self.postgres_port, "redis": self.redis_port}

    def to_public_dict(self) -> dict[str, object]:
        """The fields `cchub list --json` prints (the same as Project.to_public_dict)."""
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


class StoredProject(Protocol):
    """What the app reads of a project: a ProjectRow (ProjectStore.rows/row, read_projects) and the ORM's
    Project (ProjectStore.list/get, and what a write returns) both are one. Read-only."""

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def name_key(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def backend_port(self) -> int: ...
    @property
    def frontend_port(self) -> int: ...
    @property
    def postgres_port(self) -> int: ...
    @property
    def redis_port(self) -> int: ...
    @property
    def expose_db(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def last_started_at(self) -> datetime | None: ...
    @property
    def last_stopped_at(self) -> datetime | None: ...
    @property
    def data_key(self) -> str: ...
    @property
    def secrets_fingerprint(self) -> str | None: ...
    @property
    def secrets_created_at(self) -> datetime | None: ...
    @property
    def source_url(self) -> str | None: ...
    @property
    def source_ref(self) -> str | None: ...
    @property
    def source_commit(self) -> str | None: ...
    @property
    def source_commit_date(self) -> datetime | None: ...
    @property
    def db_image(self) -> str | None: ...
    @property
    def db_major(self) -> int | None: ...
    @property
    def db_volume(self) -> str | None: ...

    def ports(self) -> dict[str, int]: ...

    def to_public_dict(self) -> dict[str, object]: ...


COLUMNS = tuple(f.name for f in fields(ProjectRow))
_DATETIMES = frozenset(f.name for f in fields(ProjectRow) if "datetime" in str(f.type))
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM project ORDER BY name_key"


def _row(values: sqlite3.Row | tuple[object, ...]) -> ProjectRow:
    data = dict(zip(COLUMNS, values, strict=True))
    for name in _DATETIMES:
        value = data[name]
        if isinstance(value, str):  # SQLAlchemy stores DATETIME as ISO text
            data[name] = datetime.fromisoformat(value)
    data["expose_db"] = bool(data["expose_db"])
    return ProjectRow(**data)


def select_projects(conn: sqlite3.Connection, where: str = "", params: tuple[object, ...] = ()) -> list[ProjectRow]:
    """The projects `where` selects (an SQL WHERE clause, or every one), ordered by name."""
    sql = _SELECT if not where else _SELECT.replace(" ORDER BY", f" {where} ORDER BY")
    return [_row(values) for values in conn.execute(sql, params)]


def read_projects(db_file: Path) -> list[ProjectRow] | None:
    """Every project ordered by name (as ProjectStore.list), or None when the file is missing or not at this
    app's schema (the caller then opens ProjectStore). Raises StoreError for a database that cannot be read."""
    if not db_file.is_file():
        return None
    try:
        if db_file.stat().st_size == 0:   # damage, never "no projects yet" (migrations.migrate)
            raise sqlite3.DatabaseError(EMPTY_FILE)
        private_database(db_file)
        conn = sqlite3.connect(db_file, timeout=10)
    except sqlite3.Error as exc:
        raise describe_db_error(db_file, exc) from exc
    try:
        if current_version(conn) != LATEST_VERSION:
            return None
        return select_projects(conn)
    except sqlite3.Error as exc:
        raise describe_db_error(db_file, exc) from exc
    finally:
        conn.close()
