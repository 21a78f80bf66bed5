"""ProjectStore: every validation rule with the message a user sees; nothing written on failure."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cchub_desktop.store import ProjectStatus, ProjectStore, ValidationError
from cchub_desktop.store.migrations import LATEST_VERSION
from tests.helpers import free_block_number, listen_on


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    return ProjectStore(tmp_path / "projects.sqlite3", live_port_check=False)


def snapshot(store: ProjectStore) -> list[dict[str, object]]:
    return [p.model_dump() for p in store.list()]


def test_add_fills_first_block_and_derives_slug(store: ProjectStore, project_dir: Path) -> None:
    p = store.add("My App", str(project_dir))
    assert (p.backend_port, p.frontend_port, p.postgres_port, p.redis_port) == (8000, 3000, 5432, 6379)
    assert p.slug == "my-app" and p.path == str(project_dir) and p.expose_db is False
    assert p.status == "stopped" and p.last_error is None and p.created_at is not None
    assert store.get(p.id) == p  # type: ignore[arg-type]


def test_second_project_gets_next_block(store: ProjectStore, project_dir: Path) -> None:
    store.add("one", str(project_dir))
    p = store.add("two", str(project_dir))
    assert (p.backend_port, p.frontend_port, p.postgres_port, p.redis_port) == (8010, 3010, 5442, 6389)


@pytest.mark.parametrize(
    ("name", "field", "fragment"),
    [
        ("", "name", "Name is required."),
        ("   ", "name", "Name is required."),
        ("x" * 65, "name", "the limit is 64"),
        ("bad\x07name", "name", "control character (U+0007)"),
        ("tab\tname", "name", "control character (U+0009)"),
        ("evil\u202eexe", "name", "U+202E"),
        ("line\u2028break", "name", "U+2028"),
    ],
)
def test_name_rules(store: ProjectStore, project_dir: Path, name: str, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        store.add(name, str(project_dir))
    assert err.value.field == field and fragment in err.value.message
    assert store.list() == []


def test_unicode_names_are_allowed_and_slugged(store: ProjectStore, project_dir: Path) -> None:
    a = store.add("Café Ωmega", str(project_dir))
    b = store.add("数据平台", str(project_dir))
    c = store.add("Проект", str(project_dir))
    assert a.slug == "cafe-mega" and b.slug == "project" and c.slug == "project-2"
    assert store.get_by_name("café ωmega").id == a.id
    assert len(store.add("x" * 64, str(project_dir)).name) == 64


def test_names_are_unique_case_insensitively(store: ProjectStore, project_dir: Path) -> None:
    store.add("Straße", str(project_dir))
    before = snapshot(store)
    with pytest.raises(ValidationError, match="already exists") as err:
        store.add("STRASSE", str(project_dir))
    assert err.value.field == "name" and snapshot(store) == before


def test_slug_is_unique_even_when_names_differ(store: ProjectStore, project_dir: Path) -> None:
    assert store.add("my app", str(project_dir)).slug == "my-app"
    assert store.add("my-app", str(project_dir)).slug == "my-app-2"
    assert store.add("My_App!", str(project_dir)).slug == "my-app-3"


def test_path_rules(store: ProjectStore, project_dir: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        ("relative/dir", "must be an absolute path"),
        ("", "Folder is required."),
        (str(tmp_path / "missing"), "does not exist"),
        (str(a_file), "is a file, not a folder"),
        ("/", "root folder"),
        (str(Path.home()), "home folder"),
    ]
    for raw, fragment in cases:
        with pytest.raises(ValidationError) as err:
            store.add("p", raw)
        assert err.value.field == "path" and fragment in err.value.message, raw
    assert store.list() == []


def test_root_and_home_allowed_after_confirmation(store: ProjectStore) -> None:
    assert store.add("root", "/", allow_broad_path=True).path == "/"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder, so an unreadable folder cannot be made")
def test_unreadable_folder_is_refused(store: ProjectStore, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    with pytest.raises(ValidationError, match="not readable"):
        store.add("p", str(locked))


def test_unreadable_folder_is_refused_even_for_root(store: ProjectStore, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    with pytest.raises(ValidationError, match="not readable by you") as err:
        store.add("p", str(locked))
    assert err.value.field == "path"


def test_tilde_paths_are_expanded(store: ProjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "code").mkdir()
    assert store.add("p", "~/code").path == str(tmp_path / "code")


@pytest.mark.parametrize(
    ("ports", "field", "fragment"),
    [
        ({"backend_port": 80}, "backend_port", "out of range; use 1024–65535"),
        ({"frontend_port": 70000}, "frontend_port", "out of range"),
        ({"redis_port": "abc"}, "redis_port", "whole number"),
        ({"postgres_port": 5432.5}, "postgres_port", "whole number"),
        ({"backend_port": True}, "backend_port", "whole number"),
        ({"backend_port": 9000, "frontend_port": 9000}, "frontend_port", "already this project's backend port"),
    ],
)
def test_port_rules(store: ProjectStore, project_dir: Path, ports: dict[str, object], field: str,
                    fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        store.add("p", str(project_dir), **ports)  # type: ignore[arg-type]
    assert err.value.field == field and fragment in err.value.message
    assert store.list() == []


def test_port_used_by_another_project_names_it(store: ProjectStore, project_dir: Path) -> None:
    store.add("first", str(project_dir))
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        store.add("second", str(project_dir), backend_port=3000)  # first's frontend port
    assert err.value.field == "backend_port" and "used by project 'first'" in err.value.message
    assert snapshot(store) == before


def test_port_held_by_another_process_is_refused(tmp_path: Path, project_dir: Path) -> None:
    store = ProjectStore(tmp_path / "live.sqlite3", live_port_check=True)
    port = 3000 + 10 * free_block_number()
    with listen_on(port):
        with pytest.raises(ValidationError) as err:
            store.add("p", str(project_dir), frontend_port=port)
        assert err.value.field == "frontend_port" and "is in use by" in err.value.message
        assert "(pid " in err.value.message  # names the process holding it
    assert store.list() == []


def test_update_validates_and_keeps_slug(store: ProjectStore, project_dir: Path) -> None:
    a = store.add("alpha", str(project_dir))
    b = store.add("beta", str(project_dir))
    assert a.id is not None and b.id is not None
    renamed = store.update(a.id, name="Alpha Prime", frontend_port=3100)
    assert renamed.name == "Alpha Prime" and renamed.slug == "alpha" and renamed.frontend_port == 3100
    before = snapshot(store)
    with pytest.raises(ValidationError, match="already exists"):
        store.update(a.id, name="BETA")
    with pytest.raises(ValidationError, match="used by project 'beta'"):
        store.update(a.id, redis_port=b.redis_port)
    assert snapshot(store) == before


def test_status_timestamps_and_remove(store: ProjectStore, project_dir: Path) -> None:
    p = store.add("p", str(project_dir))
    assert p.id is not None
    running = store.set_status(p.id, ProjectStatus.RUNNING)
    assert running.status == "running" and running.last_started_at is not None
    failed = store.set_status(p.id, ProjectStatus.ERROR, "Docker is not running")
    assert failed.last_error == "Docker is not running"
    store.remove(p.id)
    with pytest.raises(KeyError):
        store.get(p.id)
    assert project_dir.is_dir() and (project_dir / "README.md").exists()


def test_database_is_wal_with_schema_version(store: ProjectStore, project_dir: Path) -> None:
    store.add("p", str(project_dir))
    conn = sqlite3.connect(store.db_file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == LATEST_VERSION
    conn.close()


def test_migration_copies_database_first(tmp_path: Path, project_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from cchub_desktop.store import migrations

    db = tmp_path / "projects.sqlite3"
    ProjectStore(db, live_port_check=False).add("keep me", str(project_dir))

    def v2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE project ADD COLUMN note VARCHAR")

    nxt = LATEST_VERSION + 1
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (nxt, "note", v2)])
    monkeypatch.setattr(migrations, "LATEST_VERSION", nxt)
    store = ProjectStore(db, live_port_check=False)
    assert store.migration_backup is not None
    assert store.migration_backup.name.startswith(f"projects.sqlite3.v{LATEST_VERSION}-")
    copy = sqlite3.connect(store.migration_backup)
    assert copy.execute("SELECT version FROM schema_version").fetchone()[0] == LATEST_VERSION
    assert copy.execute("SELECT name FROM project").fetchall() == [("keep me",)]
    copy.close()
    assert [p.name for p in store.list()] == ["keep me"]


def test_failed_migration_leaves_database_as_it_was(tmp_path: Path, project_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cchub_desktop.store import StoreError, migrations

    db = tmp_path / "projects.sqlite3"
    ProjectStore(db, live_port_check=False).add("keep me", str(project_dir))

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE project ADD COLUMN half VARCHAR")
        raise sqlite3.OperationalError("disk I/O error")

    nxt = LATEST_VERSION + 1
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (nxt, "broken", broken)])
    monkeypatch.setattr(migrations, "LATEST_VERSION", nxt)
    with pytest.raises(StoreError):
        ProjectStore(db, live_port_check=False)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == LATEST_VERSION
    assert "half" not in [r[1] for r in conn.execute("PRAGMA table_info(project)")]
    conn.close()


def test_newer_schema_is_refused_with_a_message(tmp_path: Path) -> None:
    from cchub_desktop.store import StoreError

    db = tmp_path / "projects.sqlite3"
    ProjectStore(db, live_port_check=False).close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer CommandCenter Hub") as err:
        ProjectStore(db)
    assert err.value.kind == "newer"


def test_corrupt_database_gives_store_error(tmp_path: Path) -> None:
    from cchub_desktop.store import StoreError

    db = tmp_path / "projects.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as err:
        ProjectStore(db)
    assert err.value.kind == "corrupt" and "damaged" in str(err.value)


def test_corrupt_database_can_be_restored_from_pre_migration_backup(tmp_path: Path, project_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cchub_desktop.store import StoreError, migrations
    from cchub_desktop.store.recovery import list_backups, restore_backup

    db = tmp_path / "projects.sqlite3"
    ProjectStore(db, live_port_check=False).add("keep me", str(project_dir))
    nxt = LATEST_VERSION + 1
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS,
                                                   (nxt, "noop", lambda c: c.execute("SELECT 1"))])
    monkeypatch.setattr(migrations, "LATEST_VERSION", nxt)
    ProjectStore(db, live_port_check=False).close()  # migrates, leaving a v1 backup
    damaged = db.read_bytes()[:4096] + b"\x00garbage" * 512
    db.write_bytes(damaged)
    with pytest.raises(StoreError) as err:
        ProjectStore(db, live_port_check=False)
    assert err.value.kind == "corrupt"
    (backup,) = list_backups(db)
    kept = restore_backup(db, backup)
    assert kept.read_bytes() == damaged  # the bad file is kept, not deleted
    assert [p.name for p in ProjectStore(db, live_port_check=False).list()] == ["keep me"]


def test_start_fresh_keeps_the_bad_file(tmp_path: Path) -> None:
    from cchub_desktop.store import StoreError
    from cchub_desktop.store.recovery import start_fresh

    db = tmp_path / "projects.sqlite3"
    db.write_bytes(b"not a database" * 10)
    with pytest.raises(StoreError):
        ProjectStore(db)
    kept = start_fresh(db)
    assert kept.read_bytes() == b"not a database" * 10 and ".damaged-" in kept.name
    assert ProjectStore(db).list() == []


def test_read_only_database_gives_a_clear_error(tmp_path: Path, project_dir: Path) -> None:
    from cchub_desktop.store import StoreError

    db = tmp_path / "projects.sqlite3"
    ProjectStore(db, live_port_check=False).add("p", str(project_dir))
    store = ProjectStore(db, live_port_check=False)
    # open the same file read-only, as on a read-only mount or with a file SQLite may not write
    store._engine.dispose()
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    store._engine = create_engine(f"sqlite:///file:{db}?mode=ro&uri=true", poolclass=NullPool)
    assert [p.name for p in store.list()] == ["p"]  # reading still works
    with pytest.raises(StoreError) as err:
        store.add("q", str(project_dir))
    assert err.value.kind == "readonly" and "read-only" in str(err.value)


def test_locked_database_gives_a_clear_error(tmp_path: Path, project_dir: Path) -> None:
    from cchub_desktop.store import StoreError

    db = tmp_path / "projects.sqlite3"
    store = ProjectStore(db, live_port_check=False)
    store._engine.dispose()
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    store._engine = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.05}, poolclass=NullPool)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        with pytest.raises(StoreError) as err:
            store.add("q", str(project_dir))
        assert err.value.kind == "locked" and "locked by another program" in str(err.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.add("q", str(project_dir)).name == "q"


def test_schema_1_database_keeps_its_data_names_and_database_image(tmp_path: Path, project_dir: Path) -> None:
    """A database from the first release: its projects keep the volume names they had (data_key = slug), and a
    project that was ever started is recorded as initialised by PostgreSQL 15."""
    from cchub_desktop.store import migrations

    db = tmp_path / "projects.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    migrations._v1_projects(conn)
    now = "2026-11-01 10:00:00"
    for i, (name, started) in enumerate([("Old App", now), ("Never Run", None)]):
        conn.execute(
            "INSERT INTO project (name, name_key, slug, path, backend_port, frontend_port, postgres_port, "
            "redis_port, created_at, updated_at, last_started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (name, name.casefold(), name.lower().replace(" ", "-"), str(project_dir), 8000 + 10 * i,
             3000 + 10 * i, 5432 + 10 * i, 6379 + 10 * i, now, now, started))
    conn.commit()
    conn.close()
    store = ProjectStore(db, live_port_check=False)
    old, never = store.get_by_name("Old App"), store.get_by_name("Never Run")
    assert (old.data_key, old.db_image, old.db_major) == ("old-app", "postgres:15-alpine", 15)
    assert (never.data_key, never.db_image, never.db_major) == ("never-run", None, None)
    fresh = store.add("old app 2", str(project_dir))
    assert fresh.data_key not in {old.data_key, never.data_key, fresh.slug}


def test_schema_2_database_gains_the_database_volume_columns(tmp_path: Path, project_dir: Path) -> None:
    """Migration 3: projects keep their image and their volume (db_volume NULL: cchub-<slug>-pgdata), and
    retired_data can record a database volume an upgrade left behind."""
    from cchub_desktop.store import migrations

    db = tmp_path / "projects.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version (version) VALUES (2)")
    migrations._v1_projects(conn)
    migrations._v2_identity_source_database(conn)
    now = "2026-11-01 10:00:00"
    conn.execute(
        "INSERT INTO project (name, name_key, slug, path, backend_port, frontend_port, postgres_port, redis_port, "
        "created_at, updated_at, data_key, db_image, db_major) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("Old", "old", "old", str(project_dir), 8000, 3000, 5432, 6379, now, now, "old", "postgres:15-alpine", 15))
    conn.commit()
    conn.close()
    store = ProjectStore(db, live_port_check=False)
    old = store.get_by_name("old")
    assert (old.db_image, old.db_major, old.db_volume) == ("postgres:15-alpine", 15, None)
    assert old.id is not None
    upgraded = store.record_db_upgrade(old.id, old_image="postgres:15-alpine", old_volume="cchub-old-pgdata",
                                       new_image="pgvector/pgvector:pg16", new_major=16,
                                       new_volume="cchub-old-pgdata-pg16")
    assert (upgraded.db_image, upgraded.db_major, upgraded.db_volume) == ("pgvector/pgvector:pg16", 16,
                                                                          "cchub-old-pgdata-pg16")
    (retired,) = store.retired_volumes()
    assert (retired.data_key, retired.volume, retired.db_image, retired.db_major) == (
        "volume:cchub-old-pgdata", "cchub-old-pgdata", "postgres:15-alpine", 15)
    with pytest.raises(ValueError, match="changed while it was being upgraded"):   # only from the old image
        store.record_db_upgrade(old.id, old_image="postgres:15-alpine", old_volume="cchub-old-pgdata",
                                new_image="postgres:17", new_major=17, new_volume="cchub-old-pgdata-pg17")
    assert store.get(old.id).db_image == "pgvector/pgvector:pg16" and len(store.retired_volumes()) == 1


def test_a_state_recorded_while_the_project_is_removed_does_not_bring_it_back(
        store: ProjectStore, project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # seen in the soak: the status writer read the project, a removal deleted it, and the write of the state
    # inserted it again (a removed project back after a restart)
    pid = store.add("Doomed", project_dir).id
    assert pid is not None
    stale = store.get(pid)                                   # read by the status writer...
    other = ProjectStore(store.db_file)
    try:
        other.remove(pid)                                    # ...removed by the window meanwhile...
    finally:
        other.close()
    monkeypatch.setattr(store, "get", lambda _pid: stale)
    with pytest.raises(KeyError):
        store.set_status(pid, ProjectStatus.RUNNING)         # ...then the state is written
    monkeypatch.undo()
    assert [p.name for p in store.list()] == []


@pytest.mark.parametrize("write", ["secrets", "source pin", "edit"])
def test_a_write_keeps_what_another_writer_changed_since_its_read(store: ProjectStore, project_dir: Path,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  write: str) -> None:
    """Each write reads the project, changes some fields and writes them; another writer (the status writer's
    thread, a runner, `cchub`) may record a state in between: it is kept (seen: a first start's record put
    back the 'stopped' of its stale copy over the 'starting' just written)."""
    pid = store.add("Acme", project_dir).id
    assert pid is not None
    other = ProjectStore(tmp_path / "projects.sqlite3", live_port_check=False)
    read = store.get

    def read_then_another_writes(project_id: int) -> object:
        project = read(project_id)
        other.set_status(project_id, ProjectStatus.STARTING)
        return project

    monkeypatch.setattr(store, "get", read_then_another_writes)
    if write == "secrets":
        store.record_secrets(pid, "fingerprint")
    elif write == "source pin":
        store.record_source_pin(pid, "https://example.invalid/cc.git", "main", "a" * 40, None)
    else:
        store.update(pid, name="Acme two")
    monkeypatch.undo()
    after = other.get(pid)
    assert after.status == "starting"   # the other writer's state stays
    assert (after.secrets_fingerprint, after.source_commit, after.name) == {
        "secrets": ("fingerprint", None, "Acme"), "source pin": (None, "a" * 40, "Acme"),
        "edit": (None, None, "Acme two")}[write]
    other.close()
