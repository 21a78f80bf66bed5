"""`cchub upgrade-db NAME`: a stopped project's PostgreSQL 15 database (a volume the old image created, with
data in it) is dumped with the old server, restored into a new volume by the new image and checked; the
project then runs the new image on the new volume, and the old volume is kept and recorded. A failure
leaves the project on its old image and volume, with the new volume emptied.

The fake engine keeps PostgreSQL volumes across sessions here (FakeDagger.keep_volumes): a volume knows
the major that initialised it and its tables with their row counts, pg_dump/psql read and write them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock
from fake_dagger.volumes import PgVolumes

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import DEFAULT_POSTGRES_IMAGE
from cchub_desktop.stack.backup import list_backups
from cchub_desktop.stack.db_upgrade import compare_inventories, dump_inventory
from cchub_desktop.stack.secrets_store import load_or_create
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.lease_holder import LeaseHolder

OLD_IMAGE, OLD_VOLUME = "postgres:15-alpine", "cchub-demo-pgdata"
NEW_VOLUME = "cchub-demo-pgdata-pg16"
# tables of upstream CommandCenter's schema (backend/alembic/versions), with rows
TABLES = {"public.alembic_version": 1, "public.projects": 3, "public.repositories": 7, "public.users": 2}


def cchub(fake: FakeDagger, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **fake.env()}
    exe = Path(sys.executable).with_name("cchub")     # the installed command, as a user runs it
    return subprocess.run([str(exe), *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def store() -> ProjectStore:
    paths = app_paths()
    paths.ensure()
    return ProjectStore(paths.db_file)


def as_schema_1_project(db_file: Path, project_id: int) -> str:
    """Make a project what migration 2 makes of a started schema-1 project: data named after its slug,
    created by postgres:15-alpine, with its secrets file. Returns the data key (the slug)."""
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE project SET data_key = slug, db_image = ?, db_major = 15 WHERE id = ?",
                     (OLD_IMAGE, project_id))
        (key,) = conn.execute("SELECT data_key FROM project WHERE id = ?", (project_id,)).fetchone()
    conn.close()
    load_or_create(app_paths().secrets_dir, key)
    return str(key)


def add_pg15_project(project_dir: Path, block: FreePortBlock, fake: FakeDagger) -> PgVolumes:
    """A project as a schema-1 release left it: started on postgres:15-alpine, data in its volume."""
    s = store()
    project = s.add("Demo", project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
    assert project.id is not None
    s.close()
    as_schema_1_project(app_paths().db_file, project.id)
    volumes = fake.keep_volumes()
    volumes.seed(OLD_VOLUME, OLD_IMAGE, TABLES)
    return volumes


def db_record() -> tuple[str | None, int | None, str | None]:
    s = store()
    try:
        p = s.get_by_name("demo")
        return p.db_image, p.db_major, p.db_volume
    finally:
        s.close()


def client_execs(fake: FakeDagger) -> list[dict[str, object]]:
    return [e for e in fake.journal.execs() if e["command"][0] in ("pg_dump", "psql")]  # type: ignore[index]


def postgres_starts(fake: FakeDagger) -> list[tuple[object, list[str]]]:
    return [(r["image"], [m["source"] for m in r["mounts"] if m["kind"] == "cache"])  # type: ignore[attr-defined]
            for r in fake.journal.services("start") if r["service_kind"] == "postgres"]


def test_upgrade_copies_a_pg15_database_into_a_new_pg16_volume_and_the_next_start_uses_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 0, done.stderr
    assert "copied from PostgreSQL 15 (postgres:15-alpine, volume cchub-demo-pgdata) to PostgreSQL 16" in done.stdout
    assert "4 tables, 13 rows copied into volume cchub-demo-pgdata-pg16" in done.stdout
    assert "kept, unchanged, in the engine's cache volume cchub-demo-pgdata" in done.stdout

    # the dump ran on the old server (old image, old volume), the restore and its check on the new one
    execs = client_execs(fake_dagger_env)
    assert [(e["command"][0], e["server"], e["exit_code"]) for e in execs] == [  # type: ignore[index]
        ("pg_dump", {"image": OLD_IMAGE, "volume": OLD_VOLUME}, 0),
        ("psql", {"image": DEFAULT_POSTGRES_IMAGE, "volume": NEW_VOLUME}, 0),
        ("pg_dump", {"image": DEFAULT_POSTGRES_IMAGE, "volume": NEW_VOLUME}, 0)]
    assert "--single-transaction" in execs[1]["command"]  # type: ignore[operator]
    assert postgres_starts(fake_dagger_env) == [(OLD_IMAGE, [OLD_VOLUME]), (DEFAULT_POSTGRES_IMAGE, [NEW_VOLUME])]
    # the new volume was initialised by PostgreSQL 16 and holds the data; the old one is as it was
    assert volumes.read(NEW_VOLUME) == {"pg_major": 16, "initialised_by": DEFAULT_POSTGRES_IMAGE, "tables": TABLES}
    assert volumes.read(OLD_VOLUME) == {"pg_major": 15, "initialised_by": OLD_IMAGE, "tables": TABLES}
    # the dump is kept in the backups folder
    (dump,) = list_backups(app_paths().backups_dir, "demo")
    assert dump.name.endswith("-before-upgrade-pg16.sql") and dump_inventory(dump.read_text().splitlines()) == TABLES
    # with the passwords it opens with (as every backup); no check file left
    assert sorted(p.name for p in app_paths().backups_dir.iterdir()) == sorted(
        [dump.name, dump.name.removesuffix(".sql") + ".secrets.json"])
    # recorded: the new image, major and volume; the old volume as retired data
    assert db_record() == (DEFAULT_POSTGRES_IMAGE, 16, NEW_VOLUME)
    s = store()
    (retired,) = s.retired_volumes()
    s.close()
    assert (retired.volume, retired.db_image, retired.db_major, retired.name) == (OLD_VOLUME, OLD_IMAGE, 15, "Demo")

    # the plan and the next start use the new image on the new volume
    plan = json.loads(cchub(fake_dagger_env, "plan", "Demo", "--json").stdout)
    (pg,) = [svc for svc in plan["services"] if svc["name"] == "postgres"]
    assert pg["image"] == DEFAULT_POSTGRES_IMAGE and NEW_VOLUME in json.dumps(pg)
    from tests.test_reliability_faults import Hub, run

    hub = Hub(fake_dagger_env, project_dir)
    pid = hub.store.get_by_name("demo").id
    assert pid is not None

    async def start_and_stop() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == ProjectStatus.RUNNING, hub.orch.message(pid)
        await hub.orch.aclose()

    try:
        run(start_and_stop())
    finally:
        hub.store.close()
    assert postgres_starts(fake_dagger_env)[-1] == (DEFAULT_POSTGRES_IMAGE, [NEW_VOLUME])
    assert "keeping postgres:15-alpine" not in hub.orch.log(pid).text()


def test_a_failed_restore_leaves_the_project_on_its_old_database_and_empties_the_new_volume(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    fake_dagger_env.set(exec_fail="psql:3:psql:/restore/commandcenter.sql:41: ERROR:  type \"vector\" does not exist")
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    err = done.stderr
    assert "The upgrade of 'Demo' to PostgreSQL 16 failed: Restoring the dump into PostgreSQL 16 failed" in err
    assert 'type "vector" does not exist' in err
    assert "Nothing was changed: the project still uses postgres:15-alpine and its database in volume " \
           "cchub-demo-pgdata" in err
    assert "The new volume cchub-demo-pgdata-pg16 was emptied" in err and "run the upgrade again" in err
    # nothing half-done: old record, old volume intact, new volume gone, nothing retired
    assert db_record() == (OLD_IMAGE, 15, None)
    assert volumes.read(OLD_VOLUME) == {"pg_major": 15, "initialised_by": OLD_IMAGE, "tables": TABLES}
    assert not volumes.exists(NEW_VOLUME)
    s = store()
    assert s.retired_volumes() == []
    s.close()
    (dump,) = list_backups(app_paths().backups_dir, "demo")   # the dump of the old database is kept
    assert f"the dump is kept in {dump}" in err

    # a second attempt works once the cause is gone (it starts from an empty new volume)
    fake_dagger_env.set(exec_fail=None)
    again = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert again.returncode == 0, again.stderr
    assert db_record() == (DEFAULT_POSTGRES_IMAGE, 16, NEW_VOLUME)
    assert volumes.tables(NEW_VOLUME) == TABLES


def test_a_failed_dump_changes_nothing_and_touches_no_new_volume(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    fake_dagger_env.set(exec_fail="pg_dump:1:pg_dump: error: connection to server failed")
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 1
    assert "stopped at the dump with PostgreSQL 15" in done.stderr and "Nothing was changed" in done.stderr
    assert db_record() == (OLD_IMAGE, 15, None)
    assert not volumes.exists(NEW_VOLUME) and list(app_paths().backups_dir.iterdir()) == []
    assert [img for img, _ in postgres_starts(fake_dagger_env)] == [OLD_IMAGE]


def test_a_running_project_is_refused_before_any_engine_work(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_pg15_project(project_dir, port_block, fake_dagger_env)
    with LeaseHolder(app_paths().runtime_dir, "demo", "Demo", kind="cchub up"):   # a `cchub up` runs it
        done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 1
    assert "Stop it first, then upgrade its database" in done.stderr and "Traceback" not in done.stderr
    assert fake_dagger_env.journal.sessions() == [] and db_record() == (OLD_IMAGE, 15, None)


def test_a_stale_running_status_does_not_block_the_upgrade(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_pg15_project(project_dir, port_block, fake_dagger_env)
    s = store()
    pid = s.get_by_name("demo").id
    assert pid is not None
    s.set_status(pid, ProjectStatus.RUNNING)   # recorded by a process that was killed: nobody holds its lease
    s.close()
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 0, done.stderr
    assert db_record() == (DEFAULT_POSTGRES_IMAGE, 16, NEW_VOLUME)


@pytest.mark.parametrize(("recorded", "major", "code", "said"), [
    (DEFAULT_POSTGRES_IMAGE, 16, 0, "'Demo' already runs PostgreSQL 16 (pgvector/pgvector:pg16); nothing to upgrade"),
    ("postgres:17", 17, 1, "a database cannot be moved to an older major version. Nothing was changed"),
    (None, None, 0, "'Demo' has no database yet"),
])
def test_same_or_newer_major_or_no_database_is_nothing_to_do_or_refused(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, recorded: str | None,
        major: int | None, code: int, said: str) -> None:
    s = store()
    project = s.add("Demo", project_dir, **{f"{k}_port": v for k, v in port_block.as_dict().items()})
    assert project.id is not None
    if recorded:
        s.record_db_image(project.id, recorded, major)
    s.close()
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == code and said in (done.stdout + done.stderr)
    assert fake_dagger_env.journal.sessions() == [] and db_record() == (recorded, major, None)


def test_delete_old_empties_the_kept_volume_and_forgets_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    assert cchub(fake_dagger_env, "upgrade-db", "Demo").returncode == 0
    done = cchub(fake_dagger_env, "upgrade-db", "Demo", "--delete-old")
    assert done.returncode == 0, done.stderr
    assert "Deleted the old database volume(s) cchub-demo-pgdata of 'Demo'" in done.stdout
    assert not volumes.exists(OLD_VOLUME) and volumes.tables(NEW_VOLUME) == TABLES
    s = store()
    assert s.retired_volumes() == []
    s.close()
    assert "no old database volume" in cchub(fake_dagger_env, "upgrade-db", "Demo", "--delete-old").stdout


def test_the_fake_engine_refuses_a_new_major_on_an_old_volume(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    """What the recorded image protects against: PostgreSQL 16 does not open a volume 15 created (so the
    upgrade has to copy the data into a new volume)."""
    add_pg15_project(project_dir, port_block, fake_dagger_env)
    s = store()
    p = s.get_by_name("demo")
    s.close()
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack import StackError, StackLog
    from cchub_desktop.stack.backup import DatabaseJob
    from cchub_desktop.stack.config import CommandCenterConfig

    p.db_image = DEFAULT_POSTGRES_IMAGE           # as if the record were ignored
    config = CommandCenterConfig.from_project(p, AppSettings(), app_paths())
    import asyncio

    with pytest.raises(StackError, match="database files are incompatible with server"):
        asyncio.run(DatabaseJob(config, AppSettings(), StackLog()).backup(app_paths().backups_dir / "x.sql"))


def test_the_check_compares_tables_and_rows_of_both_dumps() -> None:
    dump = ("--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.projects (\n    id integer NOT NULL,\n"
            "    name character varying(255)\n);\n\nCREATE TABLE public.empty (\n    id integer\n);\n\n"
            "COPY public.projects (id, name) FROM stdin;\n1\tone\n2\ttwo\n\\.\n\n")
    before = dump_inventory(dump.splitlines(keepends=True))
    assert before == {"public.projects": 2, "public.empty": 0}
    assert compare_inventories(before, dict(before)) == []
    assert compare_inventories(before, {"public.projects": 1}) == [
        "table public.empty is missing", "table public.projects has 1 rows instead of 2"]


def test_a_start_on_an_older_major_keeps_it_and_points_to_the_upgrade(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_pg15_project(project_dir, port_block, fake_dagger_env)
    from tests.test_reliability_faults import Hub, run

    hub = Hub(fake_dagger_env, project_dir)
    pid = hub.store.get_by_name("demo").id
    assert pid is not None

    async def start_and_stop() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == ProjectStatus.RUNNING, hub.orch.message(pid)
        await hub.orch.aclose()

    try:
        run(start_and_stop())
    finally:
        hub.store.close()
    log = hub.orch.log(pid).text()
    assert "keeping postgres:15-alpine. Moving to PostgreSQL 16 needs an explicit upgrade: stop the project, " \
           "then run `cchub upgrade-db Demo` (or choose Upgrade database…" in log
    assert postgres_starts(fake_dagger_env) == [(OLD_IMAGE, [OLD_VOLUME])]


def test_removing_an_upgraded_project_with_its_data_deletes_the_kept_old_volume_too(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    assert cchub(fake_dagger_env, "upgrade-db", "Demo").returncode == 0
    done = cchub(fake_dagger_env, "remove", "Demo", "--delete-data", "--yes")
    assert done.returncode == 0, done.stderr
    assert not volumes.exists(NEW_VOLUME) and not volumes.exists(OLD_VOLUME)
    s = store()
    assert s.retired_volumes() == [] and s.list() == []
    s.close()


def test_a_restore_that_exits_0_but_loses_rows_is_not_taken(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    """psql's exit code is not enough: the new database is dumped again and compared with the old one."""
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    hook = tmp_path / "lossy_psql.py"
    hook.write_text(
        "from fake_dagger.execs import ExecResult\n\n"
        "def fake_exec(ctx):\n"
        "    if ctx.command[0] == 'psql' and ctx.database is not None:\n"
        "        return ExecResult(0, '', '', database={'public.alembic_version': 1, 'public.projects': 2})\n"
        "    return None\n")
    fake_dagger_env.set(exec_hook=str(hook))
    done = cchub(fake_dagger_env, "upgrade-db", "Demo")
    assert done.returncode == 1
    assert "The restored database does not match the dump: table public.repositories is missing; table " \
           "public.users is missing; table public.projects has 2 rows instead of 3." in done.stderr
    assert "Nothing was changed" in done.stderr
    assert db_record() == (OLD_IMAGE, 15, None) and not volumes.exists(NEW_VOLUME)
    assert volumes.tables(OLD_VOLUME) == TABLES


def test_settings_naming_an_older_major_keep_the_newer_database_without_offering_an_upgrade() -> None:
    from cchub_desktop.stack.db_image import choose_db_image

    choice = choose_db_image("postgres:17", 17, DEFAULT_POSTGRES_IMAGE, "Demo")
    assert choice.image == "postgres:17"
    assert "older than postgres:17" in choice.note and "cannot move to an older major" in choice.note
    assert "upgrade-db" not in choice.note


def test_an_upgraded_project_removed_with_its_data_kept_is_adopted_on_its_new_database(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    """Adoption brings back the recorded volume; the old volume an upgrade kept is never offered."""
    add_pg15_project(project_dir, port_block, fake_dagger_env)
    assert cchub(fake_dagger_env, "upgrade-db", "Demo").returncode == 0
    assert cchub(fake_dagger_env, "remove", "Demo").returncode == 0
    s = store()
    (offered,) = s.retired_for("Demo")
    s.close()
    assert offered.data_key == "demo" and offered.volume is None
    added = cchub(fake_dagger_env, "add", "Demo", str(project_dir), "--adopt-data")
    assert added.returncode == 0, added.stderr
    assert db_record() == (DEFAULT_POSTGRES_IMAGE, 16, NEW_VOLUME)
    plan = json.loads(cchub(fake_dagger_env, "plan", "Demo", "--json").stdout)
    (pg,) = [svc for svc in plan["services"] if svc["name"] == "postgres"]
    assert NEW_VOLUME in json.dumps(pg)


def test_the_dump_is_restored_by_the_old_images_psql_which_reads_what_its_pg_dump_wrote(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    # On the real engine (docs/real-engine.md, 2026-12-06) the old image's pg_dump 15.20 began the dump with
    # `\restrict KEY` (pg_dump from the minors of 2025-08 on), and the new image's psql 16.2 stopped at it:
    # `invalid command \restrict`. The new image's pg_dump 16.2 was no way out: it dumped column options the
    # 16.2 server refused. The old image's psql reads its own pg_dump's dump into the new server.
    volumes = add_pg15_project(project_dir, port_block, fake_dagger_env)
    done = cchub(fake_dagger_env, "upgrade-db", "Demo", "--image", "postgres:16.2-alpine")
    assert done.returncode == 0, done.stderr
    execs = client_execs(fake_dagger_env)
    assert [(e["command"][0], e["image"], e["server"]["image"]) for e in execs] == [  # type: ignore[index]
        ("pg_dump", OLD_IMAGE, OLD_IMAGE),
        ("psql", OLD_IMAGE, "postgres:16.2-alpine"),
        ("pg_dump", "postgres:16.2-alpine", "postgres:16.2-alpine")]
    assert volumes.read(NEW_VOLUME) == {"pg_major": 16, "initialised_by": "postgres:16.2-alpine", "tables": TABLES}
    assert db_record() == ("postgres:16.2-alpine", 16, NEW_VOLUME)


def test_the_fake_engine_s_older_psql_refuses_a_restrict_dump_as_the_real_one_does() -> None:
    from fake_dagger.execs import ExecContext, default_exec, knows_restrict

    assert knows_restrict("postgres:15-alpine") and knows_restrict("pgvector/pgvector:pg16")
    assert knows_restrict("postgres:15.14") and not knows_restrict("postgres:16.2-alpine")
    dump = default_exec(ExecContext(["pg_dump", "--file=/backup/d.sql"], "postgres:15.20", "/", {}))
    assert dump is not None
    script = dump.files["/backup/d.sql"]
    assert b"\n\\restrict " in script and b"\n\\unrestrict " in script
    refused = default_exec(ExecContext(["psql", "--set=ON_ERROR_STOP=1", "--file=/restore/d.sql"],
                                       "postgres:16.2-alpine", "/", {}, read_file=lambda _p: script))
    assert refused is not None and refused.exit_code == 3
    assert refused.stderr == "psql:/restore/d.sql:5: error: invalid command \\restrict\n"
    read = default_exec(ExecContext(["psql", "--file=/restore/d.sql"], "postgres:16.10", "/", {},
                                    read_file=lambda _p: script))
    assert read is not None and read.exit_code == 0


def test_the_summary_says_pgvector_is_missing_only_when_the_old_dump_does_not_create_it(tmp_path: Path) -> None:
    # seen on the real engine (2026-12-06): a PostgreSQL 15 database with pgvector, upgraded, was said to
    # lack the extension
    from cchub_desktop.stack.db_upgrade import UpgradePlan, UpgradeResult, dump_has_vector

    with_vector = tmp_path / "with.sql"
    with_vector.write_text("DROP EXTENSION IF EXISTS vector;\n--\n-- Name: vector; Type: EXTENSION; Schema: -; "
                           "Owner: -\n--\n\nCREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;\n")
    without = tmp_path / "without.sql"
    without.write_text("--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.vectors (id integer);\n")
    assert dump_has_vector(with_vector) and not dump_has_vector(without)
    plan = UpgradePlan("demo", OLD_IMAGE, 15, OLD_VOLUME, DEFAULT_POSTGRES_IMAGE, 16, NEW_VOLUME)
    said = "The pgvector extension is not in the old database"
    assert said not in UpgradeResult(plan, with_vector, 2, 2, dump_has_vector(with_vector)).summary()
    assert said in UpgradeResult(plan, without, 2, 2, dump_has_vector(without)).summary()
