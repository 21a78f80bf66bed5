"""Database backups: `cchub backup NAME` / `cchub restore NAME FILE` for a stopped project (PostgreSQL alone on
the project's volume, in a session of its own), and a backup of a running stack inside that stack's session.
The dump is a real file on the host, private, in the data dir's backups folder."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import ports
from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterStack, StackError, StackLog
from cchub_desktop.stack.backup import list_backups
from cchub_desktop.stack.secrets_store import load_or_create, secrets_file
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.helpers import key_of
from tests.lease_holder import LeaseHolder
from tests.test_stack import make_config

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")
DUMP_NAME = re.compile(r"^demo-\d{8}-\d{6}\.sql$")


def add_demo(project_dir: Path, block: FreePortBlock) -> None:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    store.add("Demo", project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
    store.close()


def set_status(status: ProjectStatus) -> None:
    store = ProjectStore(app_paths().db_file)
    project = store.get_by_name("demo")
    assert project.id is not None
    store.set_status(project.id, status)
    store.close()


def assert_nothing_left(fake: FakeDagger) -> None:
    fake.sessions_exited()
    assert all(s.ended_cleanly for s in fake.journal.sessions())
    assert fake.journal.running_services() == [] and fake.journal.open_tunnels() == []


def postgres_starts(fake: FakeDagger) -> list[dict[str, object]]:
    return [r for r in fake.journal.services("start") if r["service_kind"] == "postgres"]


@posix_only
def test_backup_of_a_stopped_project_dumps_its_volume_into_a_private_timestamped_file(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_demo(project_dir, port_block)
    assert cchub(["backup", "demo"]) == 0
    backups = app_paths().backups_dir
    (dump,) = list_backups(backups, "demo")
    assert DUMP_NAME.match(dump.name)
    assert f"Backed up 'Demo' to {dump}" in capsys.readouterr().out
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600 and stat.S_IMODE(backups.stat().st_mode) == 0o700
    text = dump.read_text()
    assert text.startswith("--\n-- PostgreSQL database dump") and "on host postgres" in text
    # no partial file left behind; the passwords the database was made with beside it, private, as a restore
    # after a lost secrets file needs them
    copy = dump.with_name(dump.stem + ".secrets.json")
    assert sorted(p.name for p in backups.iterdir()) == sorted([dump.name, copy.name])
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    key = ProjectStore(app_paths().db_file).get_by_name("demo").data_key
    assert copy.read_bytes() == secrets_file(app_paths().secrets_dir, key).read_bytes()

    # PostgreSQL ran on the project's own data volume, pg_dump reached it through the binding with the
    # password as a secret, and no host port was opened for it
    (pg,) = postgres_starts(fake_dagger_env)
    assert any(m["kind"] == "cache" and m["source"] == f"cchub-{key_of('demo')}-pgdata" for m in pg["mounts"])  # type: ignore[attr-defined]
    (dump_exec,) = [e for e in fake_dagger_env.journal.execs() if e["command"][0] == "pg_dump"]
    assert "--host=postgres" in dump_exec["command"] and dump_exec["exit_code"] == 0
    assert fake_dagger_env.journal.tunnels("listen") == []
    secrets = load_secrets()
    assert all(value not in fake_dagger_env.journal.all_text() for value in secrets)
    assert_nothing_left(fake_dagger_env)


def load_secrets() -> tuple[str, ...]:
    from cchub_desktop.stack.secrets_store import load_or_create

    return load_or_create(app_paths().secrets_dir, key_of("demo")).values()


def test_two_backups_in_a_row_are_two_files_and_the_second_really_ran(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_demo(project_dir, port_block)
    assert cchub(["backup", "demo"]) == 0
    assert cchub(["backup", "demo"]) == 0
    assert len(list_backups(app_paths().backups_dir, "demo")) == 2
    # not Dagger's cached result of the first: pg_dump ran again
    assert len([e for e in fake_dagger_env.journal.execs() if e["command"][0] == "pg_dump"]) == 2
    assert_nothing_left(fake_dagger_env)


def test_restore_saves_the_current_database_first_then_loads_the_file(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_demo(project_dir, port_block)
    source = tmp_path / "from-a-colleague.sql"
    source.write_text("--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.notes (id integer);\n")
    assert cchub(["restore", "demo", str(source)]) == 0
    (safety,) = list_backups(app_paths().backups_dir, "demo")
    assert safety.name.endswith("-before-restore.sql") and "PostgreSQL database dump" in safety.read_text()
    out = capsys.readouterr().out
    assert f"Restored 'Demo' from {source}" in out and str(safety) in out
    commands = [e["command"] for e in fake_dagger_env.journal.execs()]
    assert [c[0] for c in commands] == ["pg_dump", "psql"]                  # the safety dump comes first
    (psql,) = [e for e in fake_dagger_env.journal.execs() if e["command"][0] == "psql"]
    # the fake psql fails when the script is not in the container: exit 0 means the file arrived
    assert psql["exit_code"] == 0 and "--single-transaction" in psql["command"]
    assert "--set=ON_ERROR_STOP=1" in psql["command"]
    assert_nothing_left(fake_dagger_env)


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.sql", "does not exist"),
    (lambda d: d, "is not a file"),
    (lambda d: _write(d / "notes.txt", "just some text\n"), "is not a database backup"),
])
def test_restore_refuses_what_is_not_a_backup_before_any_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], make: object, expected: str) -> None:
    add_demo(project_dir, port_block)
    target = make(tmp_path)  # type: ignore[operator]
    assert cchub(["restore", "demo", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cchub: ") and expected in err and "Traceback" not in err
    assert fake_dagger_env.journal.sessions() == []
    assert list_backups(app_paths().backups_dir, "demo") == []


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("command", "kind"), [("backup", "app"), ("restore", "app"), ("backup", "cchub up"),
                                             ("restore", "cchub up")])
def test_a_project_running_elsewhere_is_refused_with_the_way_to_do_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], command: str, kind: str) -> None:
    add_demo(project_dir, port_block)
    store = ProjectStore(app_paths().db_file)
    key = store.get_by_name("demo").data_key
    store.close()
    dump = _write(tmp_path / "x.sql", "-- PostgreSQL database dump\n")
    with LeaseHolder(app_paths().runtime_dir, key, "Demo", kind=kind) as owner:
        code = cchub([command, "demo"] + ([str(dump)] if command == "restore" else []))
    err = capsys.readouterr().err
    assert code == 1
    where = f"the CommandCenter Hub app (pid {owner.pid})" if kind == "app" else f"`cchub up` (pid {owner.pid})"
    assert f"'Demo' is running in {where}" in err and "Its database lives in that session" in err
    if command == "backup" and kind == "app":
        assert "Back up database action" in err
    else:
        assert "stop it first" in err
    assert fake_dagger_env.journal.sessions() == []


def test_a_stale_running_status_does_not_block_a_backup(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_demo(project_dir, port_block)
    load_or_create(app_paths().secrets_dir, key_of("demo"))   # it ran, so its passwords exist
    set_status(ProjectStatus.RUNNING)   # the app was killed: nothing listens on the project's ports
    assert cchub(["backup", "demo"]) == 0
    assert_nothing_left(fake_dagger_env)


def test_pg_dump_failing_says_so_and_keeps_no_file(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_demo(project_dir, port_block)
    fake_dagger_env.set(exec_fail="pg_dump:1:pg_dump: error: server version: 16.2; pg_dump version: 15.6\\n"
                                  "pg_dump: error: aborting because of server version mismatch")
    assert cchub(["backup", "demo"]) == 1
    err = capsys.readouterr().err
    assert "Backing up the database failed: `pg_dump" in err and "exited with code 1" in err
    assert "server version mismatch" in err and "details in " in err
    assert list(app_paths().backups_dir.iterdir()) == []
    assert_nothing_left(fake_dagger_env)


def test_no_engine_is_a_clear_error_for_a_backup(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_demo(project_dir, port_block)
    fake_dagger_env.set(exit_at_start=1)
    assert cchub(["backup", "demo"]) == 1
    err = capsys.readouterr().err
    assert "Docker is not running" in err and "Traceback" not in err
    assert list(app_paths().backups_dir.iterdir()) == []


def test_a_running_stack_is_backed_up_in_its_own_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    dest = app_paths().backups_dir / "demo-20260101-120000.sql"

    async def scenario() -> None:
        stack = CommandCenterStack(config, AppSettings(), StackLog())
        await stack.start()
        try:
            await stack.backup_database(dest)
        finally:
            await stack.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert "PostgreSQL database dump" in dest.read_text()
    # one session, one PostgreSQL: the dump attached to the running service instead of starting another
    assert len(fake_dagger_env.journal.sessions()) == 1
    assert len(postgres_starts(fake_dagger_env)) == 1
    assert_nothing_left(fake_dagger_env)
    assert all(ports.is_port_free(p) for p in (port_block.frontend, port_block.backend))


def test_a_stack_that_is_not_running_refuses_a_backup(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    stack = CommandCenterStack(make_config(project_dir, port_block), AppSettings(), StackLog())
    with pytest.raises(StackError, match="is not running"):
        asyncio.run(stack.backup_database(app_paths().backups_dir / "x.sql"))
    assert fake_dagger_env.journal.sessions() == []
    assert not os.path.exists(app_paths().backups_dir / "x.sql")


def test_the_app_backs_up_in_the_running_session_or_alone_when_stopped(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from tests.test_reliability_faults import Hub, run

    hub = Hub(fake_dagger_env, project_dir)
    pid = hub.add("Demo")
    saved: list[Path] = []

    async def scenario() -> None:
        await hub.orch.start(pid)
        saved.append(await hub.orch.backup(pid))          # running: in its own session
        assert len(fake_dagger_env.journal.sessions()) == 1
        await hub.orch.stop(pid)
        saved.append(await hub.orch.backup(pid))          # stopped: PostgreSQL alone, in a new session
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()
    assert len(set(saved)) == 2 and all("PostgreSQL database dump" in p.read_text() for p in saved)
    assert sorted(list_backups(app_paths().backups_dir, "demo")) == sorted(saved)
    volumes = {m["source"] for r in postgres_starts(fake_dagger_env) for m in r["mounts"] if m["kind"] == "cache"}
    assert volumes == {f"cchub-{key_of('demo')}-pgdata"}               # the same data volume both times
    assert len(fake_dagger_env.journal.sessions()) == 2
    assert_nothing_left(fake_dagger_env)
    assert "database saved to" in hub.orch.log(pid).text("hub")


def test_the_app_refuses_a_backup_while_the_project_starts(fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from tests.test_reliability_faults import Hub, run, until

    fake_dagger_env.set(start_delay=30)
    hub = Hub(fake_dagger_env, project_dir)
    pid = hub.add("Demo")

    async def scenario() -> None:
        start = asyncio.ensure_future(hub.orch.start(pid))
        await until(lambda: hub.orch.phase(pid) == "postgres")
        with pytest.raises(StackError, match="Demo is starting; back it up once it runs or has stopped"):
            await hub.orch.backup(pid)
        await hub.orch.aclose()
        await start

    try:
        run(scenario())
    finally:
        hub.store.close()
    assert list_backups(app_paths().backups_dir, "demo") == []


def test_quitting_during_a_backup_leaves_no_session_and_no_partial_file(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from tests.test_reliability_faults import Hub, run, until

    fake_dagger_env.set(start_delay=30)   # PostgreSQL takes its time to come up for the dump
    hub = Hub(fake_dagger_env, project_dir)
    pid = hub.add("Demo")

    async def scenario() -> None:
        backup = hub.orch.spawn(hub.orch.backup(pid))     # as the window and tray run it
        await until(lambda: "starting PostgreSQL on the project's data volume" in hub.orch.log(pid).text())
        await hub.orch.aclose()                            # the app quits
        assert backup.cancelled()

    try:
        run(scenario())
    finally:
        hub.store.close()
    assert_nothing_left(fake_dagger_env)
    assert list(app_paths().backups_dir.iterdir()) == []


@posix_only
def test_a_backup_whose_passwords_cannot_be_saved_keeps_no_dump(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A dump without the passwords it was made with cannot be restored after a lost secrets file: when the
    copy cannot be written (here a folder is in its way), neither is kept, and that is one line."""
    from datetime import datetime, timedelta

    add_demo(project_dir, port_block)
    backups = app_paths().backups_dir
    now = datetime.now()
    blockers = [backups / f"demo-{(now + timedelta(seconds=s)):%Y%m%d-%H%M%S}.secrets.json" for s in range(-2, 120)]
    for blocker in blockers:   # whatever second the dump is named after, its passwords copy cannot be written
        blocker.mkdir()
    assert cchub(["backup", "demo"]) == 1
    assert sorted(backups.iterdir()) == sorted(blockers)   # no dump, no partial file
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[0].startswith("cchub: The backup was not kept: its passwords could not be saved"), err
    assert "Traceback" not in "\n".join(err)
    assert_nothing_left(fake_dagger_env)
