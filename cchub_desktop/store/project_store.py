"""ProjectStore: the projects in a SQLite file (WAL), validated before anything is written.

Reading the projects (`rows`, `row`, `row_named`) uses the stdlib's sqlite3 alone: the window, the tray and the
orchestrator read at start-up and while idle without SQLAlchemy, SQLModel or pydantic (~60 MB and ~300 ms).
Those are imported at the first write (add, update, remove, a recorded state) or the first read of the ORM
objects (`list`, `get`, `get_by_name`, kept data), and the engine is created then.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cchub_desktop import ports as port_blocks
from cchub_desktop.store.migrations import migrate
from cchub_desktop.store.rows import (
    PORT_FIELDS,
    ProjectRow,
    ProjectStatus,
    StoreError,
    describe_db_error,
    select_projects,
)
from cchub_desktop.store.validation import (
    PORT_LABELS,
    ValidationError,
    clean_name,
    clean_path,
    clean_ports,
    port_problems,
    slug_base,
    unique_slug,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from cchub_desktop.store.models import Project, RetiredData

EDITABLE_FIELDS = {"name", "path", "expose_db", *PORT_FIELDS}
BUSY_TIMEOUT = 10   # seconds a statement waits for another process's write lock (both paths)
__all__ = ["EDITABLE_FIELDS", "ProjectStore", "StoreError", "describe_db_error"]


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _utcnow() -> datetime:
    from cchub_desktop.store.models import utcnow

    return utcnow()


class ProjectStore:
    def __init__(self, db_file: Path, *, live_port_check: bool = True) -> None:
        self.db_file = Path(db_file)
        self.live_port_check = live_port_check
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.migration_backup = migrate(self.db_file)
        except (sqlite3.Error, RuntimeError) as exc:
            raise describe_db_error(self.db_file, exc) from exc
        self._orm_engine: Engine | None = None   # at the first write or ORM read (_engine)

    # -- reading, with the stdlib ------------------------------------------------------------------
    def _read(self, where: str = "", params: tuple[object, ...] = ()) -> builtins.list[ProjectRow]:
        """One SELECT in a connection of its own, closed at once: a read transaction as short as the query
        (other processes write the same file), waiting for a writer as the ORM's connections do."""
        try:
            conn = sqlite3.connect(self.db_file, timeout=BUSY_TIMEOUT)
        except sqlite3.Error as exc:
            raise describe_db_error(self.db_file, exc) from exc
        try:
            return select_projects(conn, where, params)
        except sqlite3.Error as exc:
            raise describe_db_error(self.db_file, exc) from exc
        finally:
            conn.close()

    def rows(self) -> builtins.list[ProjectRow]:
        """Every project ordered by name, read-only (what list() gives, without the ORM)."""
        return self._read()

    def row(self, project_id: int) -> ProjectRow:
        """One project, read-only (what get() gives, without the ORM); KeyError when there is none."""
        found = self._read("WHERE id = ?", (project_id,))
        if not found:
            raise KeyError(f"no project with id {project_id}")
        return found[0]

    def row_named(self, name: str) -> ProjectRow:
        """The project of that name (case-insensitively), read-only; KeyError when there is none."""
        found = self._read("WHERE name_key = ?", (name.strip().casefold(),))
        if not found:
            raise KeyError(f"no project named '{name.strip()}'")
        return found[0]

    # -- the ORM, for writing ----------------------------------------------------------------------
    @property
    def _engine(self) -> Engine:
        if self._orm_engine is None:
            from sqlalchemy import event
            from sqlalchemy.pool import NullPool
            from sqlmodel import create_engine

            engine = create_engine(f"sqlite:///{self.db_file}", connect_args={"timeout": BUSY_TIMEOUT},
                                   poolclass=NullPool)
            event.listen(engine, "connect", _set_pragmas)
            self._orm_engine = engine
        return self._orm_engine

    @_engine.setter
    def _engine(self, engine: Engine) -> None:
        self._orm_engine = engine

    @contextmanager
    def _session(self) -> Iterator[Session]:
        from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
        from sqlmodel import Session

        try:
            with Session(self._engine, expire_on_commit=False) as session:
                yield session
        except IntegrityError:
            raise
        except (OperationalError, DatabaseError) as exc:
            raise describe_db_error(self.db_file, exc.orig or exc) from exc

    def list(self) -> list[Project]:
        """Every project as the ORM's objects (rows() reads the same without SQLAlchemy)."""
        from sqlmodel import select

        from cchub_desktop.store.models import Project

        with self._session() as session:
            return list(session.exec(select(Project).order_by(Project.name_key)).all())

    def get(self, project_id: int) -> Project:
        from cchub_desktop.store.models import Project

        with self._session() as session:
            project = session.get(Project, project_id)
        if project is None:
            raise KeyError(f"no project with id {project_id}")
        return project

    def get_by_name(self, name: str) -> Project:
        from sqlmodel import select

        from cchub_desktop.store.models import Project

        key = name.strip().casefold()
        with self._session() as session:
            project = session.exec(select(Project).where(Project.name_key == key)).first()
        if project is None:
            raise KeyError(f"no project named '{name.strip()}'")
        return project

    def used_ports(self, exclude_id: int | None = None) -> set[int]:
        return set(self._port_owners(exclude_id))

    def _port_owners(self, exclude_id: int | None) -> dict[int, str]:
        owners: dict[int, str] = {}
        for p in self.rows():
            if p.id != exclude_id:
                for field in PORT_FIELDS:
                    owners[getattr(p, field)] = p.name
        return owners

    def _available_name(self, name: object, project_id: int | None) -> str:
        clean = clean_name(name)
        if any(p.name_key == clean.casefold() and p.id != project_id for p in self.rows()):
            raise ValidationError("name", f"A project named '{clean}' already exists; choose another name.")
        return clean

    def problems(self, name: object, path: object, ports: Mapping[str, object], *, expose_db: bool = False,
                 allow_broad_path: bool = False, project_id: int | None = None,
                 check_path: bool = True, check_ports: bool = True, live_all: bool = False) -> dict[str, str]:
        """Every broken rule at once, field -> message (add and update stop at the first): for forms that
        show each message next to its field. The live check (another program holds the port) covers the
        ports that change, or with `live_all` every port the project will bind. Writes nothing."""
        found: dict[str, str] = {}

        def attempt(check: Callable[[], object]) -> None:
            try:
                check()
            except ValidationError as exc:
                found.setdefault(exc.field, exc.message)

        attempt(lambda: self._available_name(name, project_id))
        if check_path:
            attempt(lambda: clean_path(path, allow_broad=allow_broad_path))
        if check_ports:
            clean, bad = port_problems(ports, self._port_owners(project_id))
            current = self.row(project_id).ports() if project_id is not None and not live_all else {}
            changed = {f: v for f, v in clean.items() if current.get(f.removesuffix("_port")) != v}
            for field, message in {**bad, **self.live_problems(changed, expose_db)}.items():
                found.setdefault(field, message)
        return found

    # -- writing -----------------------------------------------------------------------------------
    def add(self, name: str, path: str | Path, *, backend_port: int | None = None,
            frontend_port: int | None = None, postgres_port: int | None = None,
            redis_port: int | None = None, expose_db: bool = False, allow_broad_path: bool = False,
            adopt: str | None = None) -> Project:
        """A new project with data of its own, or with `adopt`: the data key of a removed project's kept data
        (retired_for), taken over with what is known of it (secrets fingerprint, database image)."""
        from sqlalchemy.exc import IntegrityError

        from cchub_desktop.store.models import Project, RetiredData

        clean = self._available_name(name, None)
        existing = self.rows()
        folder = clean_path(path, allow_broad=allow_broad_path)
        given = {"backend_port": backend_port, "frontend_port": frontend_port,
                 "postgres_port": postgres_port, "redis_port": redis_port}
        owners = self._port_owners(None)
        ports = clean_ports(self._fill_ports(given, owners, bool(expose_db)), owners)
        self._check_live({k: v for k, v in ports.items() if given[k] is not None}, bool(expose_db))
        project = Project(name=clean, name_key=clean.casefold(), path=folder, expose_db=bool(expose_db),
                          slug=unique_slug(clean, {p.slug for p in existing}),
                          backend_port=ports["backend_port"], frontend_port=ports["frontend_port"],
                          postgres_port=ports["postgres_port"], redis_port=ports["redis_port"])
        if adopt is None:
            return self._commit(project)
        with self._session() as session:
            retired = session.get(RetiredData, adopt)
            if retired is None:
                raise ValidationError("name", "That removed project's data is no longer there to use.")
            project.data_key = retired.data_key
            project.secrets_fingerprint = retired.secrets_fingerprint
            project.db_image, project.db_major = retired.db_image, retired.db_major
            project.db_volume = retired.db_volume
            session.delete(retired)
            session.add(project)
            try:
                session.commit()
            except IntegrityError as exc:
                raise ValidationError(_integrity_field(str(exc.orig)),
                                      "That value was just taken by another project; reload and try again.") from exc
            session.refresh(project)
            return project

    def retired_for(self, name: str) -> Sequence[RetiredData]:
        """Data kept by removed projects whose name is this one or reads the same ("My App", "my app."),
        newest first."""
        from sqlmodel import select

        from cchub_desktop.store.models import RetiredData

        wanted = slug_base(clean_name(name))
        with self._session() as session:
            # a database volume an upgrade left behind (volume set) is not a removed project's data
            found = [r for r in session.exec(select(RetiredData)).all()
                     if r.volume is None and slug_base(r.name) == wanted]
        return sorted(found, key=lambda r: r.removed_at, reverse=True)

    def record_secrets(self, project_id: int, fingerprint: str | None) -> Project:
        """Record that the project's secrets exist (their fingerprint, now), or that they are gone (None)."""
        project = self.get(project_id)
        project.secrets_fingerprint = fingerprint
        project.secrets_created_at = _utcnow() if fingerprint is not None else None
        return self._commit(project)

    def forget_data(self, project_id: int) -> Project:
        """The project's data was deleted (reset): its next start makes new secrets and a new database."""
        project = self.get(project_id)
        project.secrets_fingerprint = project.secrets_created_at = None
        project.db_image = project.db_major = None
        return self._commit(project)

    def _fill_ports(self, given: dict[str, int | None], owners: dict[int, str],
                    expose_db: bool) -> dict[str, object]:
        if all(v is not None for v in given.values()):
            return dict(given)
        taken = set(owners) | {v for v in given.values() if isinstance(v, int)}
        free = port_blocks.next_free_block(taken, expose_db, live_check=self.live_port_check).as_dict()
        return {f: (v if v is not None else free[f.removesuffix("_port")]) for f, v in given.items()}

    def _check_live(self, ports: dict[str, int], expose_db: bool) -> None:
        """Ports a person typed that another program holds now, for the ports this project will bind."""
        for field, message in self.live_problems(ports, expose_db).items():
            raise ValidationError(field, message)

    def live_problems(self, ports: Mapping[str, int], expose_db: bool) -> dict[str, str]:
        """field -> message for each of `ports` that another program holds now (of those this project binds)."""
        found: dict[str, str] = {}
        if not self.live_port_check:
            return found
        for field, port in ports.items():
            if field in ("postgres_port", "redis_port") and not expose_db:
                continue
            if not port_blocks.is_port_free(port):
                who = port_blocks.port_holder(port) or "another program"
                found[field] = (f"{PORT_LABELS[field]} {port} is in use by {who} on this machine; choose "
                                "another port or stop that program.")
        return found

    def update(self, project_id: int, **changes: Any) -> Project:
        unknown = set(changes) - EDITABLE_FIELDS - {"allow_broad_path"}
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
        project = self.get(project_id)
        if "name" in changes:
            clean = self._available_name(changes["name"], project_id)
            project.name, project.name_key = clean, clean.casefold()
        if "path" in changes:
            project.path = clean_path(changes["path"], allow_broad=bool(changes.get("allow_broad_path")))
        if "expose_db" in changes:
            project.expose_db = bool(changes["expose_db"])
        port_changes = {f: changes[f] for f in PORT_FIELDS if f in changes and changes[f] is not None}
        if port_changes or "expose_db" in changes:
            merged = {f: port_changes.get(f, getattr(project, f)) for f in PORT_FIELDS}
            clean_p = clean_ports(merged, self._port_owners(project_id))
            changed = {f: v for f, v in clean_p.items() if v != getattr(self.get(project_id), f)}
            self._check_live(changed, project.expose_db)
            for field, value in clean_p.items():
                setattr(project, field, value)
        project.updated_at = _utcnow()
        return self._commit(project)

    def record_db_image(self, project_id: int, image: str, major: int | None) -> Project:
        """Record the PostgreSQL image that initialises the project's volume, unless one is recorded already
        (one conditional UPDATE: with several processes starting at once, the first record wins and every
        process then reads it back)."""
        with self._session() as session:
            session.connection().exec_driver_sql(
                "UPDATE project SET db_image = ?, db_major = ? WHERE id = ? AND db_image IS NULL",
                (image, major, project_id))
            session.commit()
        return self.get(project_id)

    def record_db_upgrade(self, project_id: int, *, old_image: str, old_volume: str, new_image: str,
                          new_major: int, new_volume: str) -> Project:
        """After a database upgrade: the project runs on `new_image` with its data in `new_volume`, and the
        old volume is recorded in retired_data (kept until the user deletes it). One transaction, and only
        when the project still has `old_image` (ValueError when something changed it meanwhile)."""
        project = self.get(project_id)
        with self._session() as session:
            conn = session.connection()
            changed = conn.exec_driver_sql(
                "UPDATE project SET db_image = ?, db_major = ?, db_volume = ?, updated_at = ? "
                "WHERE id = ? AND db_image = ?",
                (new_image, new_major, new_volume, _utcnow().replace(tzinfo=None).isoformat(" "),
                 project_id, old_image)).rowcount
            if changed != 1:
                session.rollback()
                raise ValueError(f"the database image of '{project.name}' changed while it was being upgraded")
            conn.exec_driver_sql(
                "INSERT OR REPLACE INTO retired_data (data_key, name, name_key, path, removed_at, "
                "secrets_fingerprint, db_image, db_major, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (f"volume:{old_volume}", project.name, project.name_key, project.path,
                 _utcnow().replace(tzinfo=None).isoformat(" "), project.secrets_fingerprint, old_image,
                 project.db_major, old_volume))
            session.commit()
        return self.get(project_id)

    def retired_volumes(self) -> builtins.list[RetiredData]:
        """The database volumes upgrades left behind, oldest first."""
        from sqlmodel import select

        from cchub_desktop.store.models import RetiredData

        with self._session() as session:
            rows = session.exec(select(RetiredData).where(RetiredData.volume.is_not(None))  # type: ignore[union-attr]
                                .order_by(RetiredData.removed_at)).all()  # type: ignore[arg-type]
            return list(rows)

    def kept_rows(self) -> builtins.list[RetiredData]:
        """Every row of kept data: removed projects' and upgrades' old database volumes (kept_data.py)."""
        from sqlmodel import select

        from cchub_desktop.store.models import RetiredData

        with self._session() as session:
            return list(session.exec(select(RetiredData)).all())

    def take_kept(self, data_key: str) -> RetiredData | None:
        """Take one row of kept data off the list (to delete it), returning it; None when it is gone (adopted
        or deleted meanwhile). One transaction: of two takers, one gets it."""
        from cchub_desktop.store.models import RetiredData

        with self._session() as session:
            row = session.get(RetiredData, data_key)
            if row is None:
                return None
            session.delete(row)
            session.commit()   # the row is now detached, its fields loaded (expire_on_commit off)
            return row

    def put_back_kept(self, row: RetiredData) -> None:
        """Put a row taken by take_kept back (its deletion failed)."""
        from cchub_desktop.store.models import RetiredData

        with self._session() as session:
            session.merge(RetiredData(**row.model_dump()))
            session.commit()

    def forget_retired_volumes(self, volumes: builtins.list[str]) -> None:
        """Drop the retired_data rows of these (deleted) volumes."""
        with self._session() as session:
            for volume in volumes:
                session.connection().exec_driver_sql("DELETE FROM retired_data WHERE volume = ?", (volume,))
            session.commit()
    def record_source_pin(self, project_id: int, url: str, ref: str, commit: str,
                          commit_date: datetime | None) -> Project:
        """Record the CommandCenter commit the project builds from (its first start, or an update)."""
        project = self.get(project_id)
        project.source_url, project.source_ref = url, ref
        project.source_commit, project.source_commit_date = commit, commit_date
        return self._commit(project)

    def set_status(self, project_id: int, status: ProjectStatus, last_error: str | None = None, *,
                   at: datetime | None = None) -> Project:
        """Record a state; `at` (default now) is when it was reached: last_started_at for running."""
        project = self.get(project_id)
        project.status = ProjectStatus(status).value
        project.last_error = last_error
        if status == ProjectStatus.RUNNING:
            project.last_started_at = at or _utcnow()
        elif status == ProjectStatus.STOPPED:
            project.last_stopped_at = _utcnow()
        return self._commit(project)

    def remove(self, project_id: int, *, data_kept: bool = True) -> None:
        """Forget a project. `data_kept`: its volumes and secrets stay, recorded in retired_data so that a
        project added later may adopt them when the user asks (never by name alone)."""
        from cchub_desktop.store.models import Project, RetiredData

        with self._session() as session:
            project = session.get(Project, project_id)
            if project is None:
                raise KeyError(f"no project with id {project_id}")
            if data_kept and (project.secrets_fingerprint is not None or project.db_image is not None
                              or project.last_started_at is not None):
                session.merge(RetiredData(data_key=project.data_key, name=project.name, name_key=project.name_key,
                                          path=project.path, secrets_fingerprint=project.secrets_fingerprint,
                                          db_image=project.db_image, db_major=project.db_major,
                                          db_volume=project.db_volume))
            session.delete(project)
            session.commit()

    def _commit(self, project: Project) -> Project:
        """Insert a new project, or write the fields changed on one read with get(): only those, onto the row as
        it is now. Another writer (the status writer's thread, a runner, `cchub`) may have changed other fields
        since the read; writing the whole object back would undo that (seen: a first start's database-image
        record put back the 'stopped' its stale copy held over the 'starting' just written)."""
        from sqlalchemy import inspect
        from sqlalchemy.exc import IntegrityError

        try:
            with self._session() as session:
                if project.id is None:
                    session.add(project)
                    session.commit()
                    session.refresh(project)
                    return project
                current = session.get(type(project), project.id)
                if current is None:
                    # removed since it was read (a state recorded while a removal ran): writing it would insert
                    # it again, bringing a removed project back
                    raise KeyError(f"no project with id {project.id}")
                for attr in inspect(project).attrs:
                    if attr.history.has_changes():
                        setattr(current, attr.key, attr.value)
                session.commit()
                session.refresh(current)
                return current
        except IntegrityError as exc:
            # another writer (the app or `cchub`) took a name, slug or port between our check and commit
            raise ValidationError(_integrity_field(str(exc.orig)),
                                  "That value was just taken by another project; reload and try again.") from exc

    def close(self) -> None:
        if self._orm_engine is not None:   # never written through: no ORM to load just to dispose of it
            self._orm_engine.dispose()


def _integrity_field(text: str) -> str:
    for field in ("name_key", "slug", *PORT_FIELDS):
        if f"project.{field}" in text:
            return "name" if field in ("name_key", "slug") else field
    return "name"
