"""Numbered schema migrations. The database is copied (SQLite backup API) before any migration runs."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cchub_desktop.file_modes import private_file

Migration = Callable[[sqlite3.Connection], None]


def _v1_projects(conn: sqlite3.Connection) -> None:
    # one statement per execute(): executescript() would commit the migration transaction early
    conn.execute(
        """
        CREATE TABLE project (
            id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL,
            name_key VARCHAR NOT NULL UNIQUE,
            slug VARCHAR NOT NULL UNIQUE,
            path VARCHAR NOT NULL,
            backend_port INTEGER NOT NULL UNIQUE,
            frontend_port INTEGER NOT NULL UNIQUE,
            postgres_port INTEGER NOT NULL UNIQUE,
            redis_port INTEGER NOT NULL UNIQUE,
            expose_db BOOLEAN NOT NULL DEFAULT 0,
            status VARCHAR NOT NULL DEFAULT 'stopped',
            last_error VARCHAR,
            created_at DATETIME NOT NULL,
            updated_at DATETIME NOT NULL,
            last_started_at DATETIME,
            last_stopped_at DATETIME
        )
        """
    )


def _v2_identity_source_database(conn: sqlite3.Connection) -> None:
    """Columns for data identity (data_key), secrets bookkeeping, the pinned source commit and the database
    image that initialised a project's volume; a table of data left behind by removed projects.

    Existing projects keep their data under the names they had: data_key = slug. A project that has been
    started was initialised by the only image versions before this one knew (PostgreSQL 15)."""
    for column in (
        "data_key VARCHAR",
        "secrets_fingerprint VARCHAR",
        "secrets_created_at DATETIME",
        "source_url VARCHAR",
        "source_ref VARCHAR",
        "source_commit VARCHAR",
        "source_commit_date DATETIME",
        "db_image VARCHAR",
        "db_major INTEGER",
    ):
        conn.execute(f"ALTER TABLE project ADD COLUMN {column}")
    conn.execute("UPDATE project SET data_key = slug")
    conn.execute("UPDATE project SET db_image = 'postgres:15-alpine', db_major = 15 "
                 "WHERE last_started_at IS NOT NULL")
    conn.execute("CREATE UNIQUE INDEX ix_project_data_key ON project (data_key)")
    conn.execute(
        """
        CREATE TABLE retired_data (
            data_key VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            name_key VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            removed_at DATETIME NOT NULL,
            secrets_fingerprint VARCHAR,
            db_image VARCHAR,
            db_major INTEGER
        )
        """
    )


def _v3_database_volume(conn: sqlite3.Connection) -> None:
    """The volume a project's PostgreSQL data lives in, once an upgrade moved it (NULL: the volume named
    after the project, cchub-<data key>-pgdata, as before); in retired_data the same for a removed project's
    data (db_volume), and the volume a row stands for (`volume`: a database left behind by an upgrade, never
    offered for adoption; NULL for the data of a removed project)."""
    conn.execute("ALTER TABLE project ADD COLUMN db_volume VARCHAR")
    conn.execute("ALTER TABLE retired_data ADD COLUMN db_volume VARCHAR")
    conn.execute("ALTER TABLE retired_data ADD COLUMN volume VARCHAR")


# (version, description, function); versions are consecutive from 1 and never renumbered.
MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "projects table", _v1_projects),
    (2, "data identity, secrets, pinned source, database image; retired data", _v2_identity_source_database),
    (3, "database volume (after an upgrade); retired database volumes", _v3_database_volume),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if not has_table:
        return 0
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def backup_copy(conn: sqlite3.Connection, db_file: Path, from_version: int) -> Path:
    """A consistent copy of the database next to it, named after the version it holds."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = db_file.with_name(f"{db_file.name}.v{from_version}-{stamp}.bak")
    with sqlite3.connect(target) as dest:
        conn.backup(dest)
    dest.close()
    private_file(target)
    return target


EMPTY_FILE = "database file is empty (0 bytes)"


def migrate(db_file: Path) -> Path | None:
    """Bring the database to LATEST_VERSION. Returns the backup made before migrating, if any.

    A missing database is created complete under a temporary name and linked into place, so the database
    file never exists with 0 bytes because of this app: a 0-byte file is damage (a full disk, a copy or sync
    cut off) and is refused, never taken for "no projects yet"."""
    if not db_file.exists():
        _create(db_file)
        return None
    if db_file.is_file() and db_file.stat().st_size == 0:
        raise sqlite3.DatabaseError(EMPTY_FILE)
    private_database(db_file)
    return _migrate(db_file)


def private_database(db_file: Path) -> None:
    """The database and SQLite's files beside it, readable by the user only (SQLite gives new WAL and SHM
    files the database file's mode)."""
    for path in (db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-shm", "-journal"))):
        private_file(path)


def _create(db_file: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db_file.name}.new-", dir=db_file.parent)  # created 0600
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _migrate(tmp)  # SQLite starts a new database in the empty file
        try:
            os.link(tmp, db_file)
        except FileExistsError:
            pass  # another process created it first: theirs is used
        except OSError:  # a file system without hard links
            if not db_file.exists():
                os.replace(tmp, db_file)
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _migrate(db_file: Path) -> Path | None:
    conn = sqlite3.connect(db_file, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check and check[0] != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed: {check[0]}")
        version = current_version(conn)
        if version > LATEST_VERSION:
            raise RuntimeError(
                f"This database was written by a newer CommandCenter Hub (schema {version}, this app knows "
                f"{LATEST_VERSION}). Update the app.")
        if version == LATEST_VERSION:
            return None
        backup = backup_copy(conn, db_file, version) if version > 0 else None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version == 0:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for number, _description, step in MIGRATIONS:
                if number > version:
                    step(conn)
                    conn.execute("UPDATE schema_version SET version = ?", (number,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return backup
    finally:
        conn.close()
