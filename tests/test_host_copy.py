"""A project's data outlives the engine: every stop (and a periodic timer) copies the database to the app's
data folder, and a start that finds the volume discarded by the engine (fresh, no marker) restores the newest
copy before the migrations, and says so."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fake_dagger.fixtures import FakeDagger
from fake_dagger.volumes import PgVolumes

from cchub_desktop import host_copies
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStatus
from tests.test_reliability_faults import Hub, run, until

S = ProjectStatus
ROWS = {"public.notes": 3, "public.projects": 2}


def setup(fake: FakeDagger, folder: Path) -> tuple[Hub, int, PgVolumes, str, Path]:
    volumes = fake.keep_volumes()
    hub = Hub(fake, folder)
    pid = hub.add("Alpha")
    key = hub.store.get(pid).data_key
    return hub, pid, volumes, key, host_copies.copies_dir(app_paths().data_dir, key)


def log_text(hub: Hub, pid: int) -> str:
    return "\n".join(line.text for line in hub.orch.log(pid).lines()[1])


def run_and_read(hub: Hub, pid: int, scenario: Callable[[], Coroutine[Any, Any, None]]) -> str:
    """Run the scenario and return the project's log; the store is closed either way."""
    try:
        run(scenario())
        return log_text(hub, pid)
    finally:
        hub.store.close()


def run_with_rows(hub: Hub, pid: int, volumes: PgVolumes, volume: str) -> None:
    """Start the project, put ROWS in its database volume, stop it (which writes a host copy); the store is
    closed either way."""
    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        volumes.set_tables(volume, ROWS)
        await hub.orch.stop(pid)
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def test_a_volume_the_engine_discarded_is_restored_from_the_copy_before_the_migrations(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub, pid, volumes, key, folder = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        volumes.set_tables(volume, ROWS)          # the user wrote rows
        await hub.orch.stop(pid)
        assert hub.orch.state(pid) == S.STOPPED
        volumes.wipe(volume)                      # the engine's garbage collection pruned the volume
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert volumes.tables(volume) == ROWS                              # the rows are back
    (copy,) = [c for c in host_copies.list_copies(folder) if c.number == 1]   # the one restored
    assert "the engine had discarded this project's database; restored the copy of " \
           f"{copy.taken_at:%H:%M} (copy 1," in text
    assert "saved copy 1 of the data (stop, rag_storage included)" in text
    # the restore ran before the backend (whose command runs the migrations) started
    journal = fake_dagger_env.journal
    restore = [e for e in journal.execs() if e["command"][0] == "psql" and any(
        a.startswith("--file=") for a in e["command"])]
    backend_starts = sorted(r["ts"] for r in journal.services("start") if r["service_kind"] == "uvicorn")
    assert len(restore) == 1 and len(backend_starts) == 2
    assert backend_starts[0] < restore[0]["ts"] < backend_starts[1]
    # the marker was written again: the next start is the project's own database and restores nothing
    assert (volumes.comment(volume) or "").startswith(f"cchub-data:{key}:")
    # private files in a private folder
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct(folder.parent.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir() if p.is_file()} == {"0o600"}


def test_a_brand_new_project_starts_empty_and_a_marked_database_is_never_overwritten(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub, pid, volumes, key, folder = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    async def scenario() -> None:
        await hub.orch.start(pid)                 # no copy yet: starts as before
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.stop(pid)                  # copy 1: an empty database
        volumes.set_tables(volume, ROWS)          # newer data than the copy, in the marked database
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert volumes.tables(volume) == ROWS
    assert "restored the copy" not in text
    assert [c.number for c in host_copies.list_copies(folder)] == [2, 1]


def test_a_failed_copy_keeps_the_older_ones_leaves_no_partial_file_and_is_reported(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: object) -> None:
    from cchub_desktop.cli import main as cchub

    hub, pid, _, _, folder = setup(fake_dagger_env, project_dir)

    async def scenario() -> None:
        await hub.orch.start(pid)
        await hub.orch.stop(pid)
        fake_dagger_env.set(exec_fail="pg_dump:1:pg_dump: error: connection lost")
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.stop(pid)
        assert hub.orch.state(pid) == S.STOPPED   # the stop still stops
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert files_in(folder) == ["copy-000001.json", "copy-000001.rag.tar.gz", "copy-000001.sql", "status.json"]
    assert "the stop copy of the data failed" in text and "The 1 older copie(s) are kept" in text
    status = host_copies.read_status(folder)
    assert status is not None and not status.ok
    capsys.readouterr()  # type: ignore[attr-defined]
    assert cchub(["list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert row["host_copy"]["state"] == "failed" and row["host_copy"]["number"] == 1
    assert row["host_copy"]["error"] and row["host_copy"]["failed_at"]


def test_the_periodic_copy_runs_while_the_stack_runs_and_the_last_few_are_kept(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub, pid, _, _, folder = setup(fake_dagger_env, project_dir)

    def numbers() -> list[int]:
        return [c.number for c in host_copies.list_copies(folder)]

    async def scenario() -> None:
        await hub.orch.start(pid)
        stack = hub.orch.stack(pid)
        assert stack is not None and stack.host_copy is not None
        assert stack.host_copy.interval_s == 15 * 60            # the setting's default
        for n in range(1, 5):
            stack.host_copy.tick()                               # the interval has passed
            await until(lambda n=n: bool(numbers()) and numbers()[0] == n, 30)  # type: ignore[misc]
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert numbers() == [5, 4, 3]                               # 4 periodic + the stop's; 3 kept
    assert "saved copy 1 of the data (periodic, rag_storage included)" in text
    assert "saved copy 5 of the data (stop, rag_storage included)" in text


def test_a_stop_of_a_stack_that_never_became_healthy_writes_no_copy_and_says_so(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub, pid, _, _, folder = setup(fake_dagger_env, project_dir)
    fake_dagger_env.set(exec_fail="uvicorn:1:ImportError: no module named app")

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.ERROR
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert "no copy of the data at this stop: the stack never became healthy" in text
    assert "earlier copies" not in text                         # there are none to speak of
    assert host_copies.list_copies(folder) == []


def test_reset_db_keeps_a_copy_from_before_the_reset_that_no_start_restores(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: object) -> None:
    from cchub_desktop.cli import main as cchub

    hub, pid, volumes, key, folder = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    async def cycle(h: Hub, rows: dict[str, int] | None = None) -> None:
        await h.orch.start(pid)
        assert h.orch.state(pid) == S.RUNNING, h.orch.message(pid)
        if rows:
            volumes.set_tables(volume, rows)
        await h.orch.aclose()

    try:
        run(cycle(hub, ROWS))
        assert cchub(["reset-db", "Alpha", "--yes"]) == 0
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert "A copy of the database from before the reset (copy 2," in out
        assert host_copies.list_copies(folder) == []            # nothing a start would restore
        (retired,) = [p for p in folder.iterdir() if p.is_dir()]
        assert retired.name.startswith("retired-before-reset-")
        assert [c.number for c in host_copies.list_copies(retired)] == [2, 1]
        assert "public.notes" in (retired / "copy-000002.sql").read_text()   # the data from before the reset
        # the log is the project's, kept: what it did before the reset, then the reset itself
        assert cchub(["logs", "Alpha"]) == 0
        logged = capsys.readouterr().out  # type: ignore[attr-defined]
        assert "saved copy 1" in logged and "reset-db: the database" in logged, logged[-2000:]
        again = Hub(fake_dagger_env, project_dir)
        run(cycle(again))
        text = log_text(again, pid)
        again.store.close()
    finally:
        hub.store.close()
    assert "restored the copy" not in text
    assert volumes.tables(volume) == {}                          # the reset database starts empty
    assert [c.number for c in host_copies.list_copies(folder)] == [1]   # and is copied afresh


def test_remove_with_delete_data_deletes_the_copies_and_without_keeps_them(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from cchub_desktop.cli import main as cchub

    hub, pid, _, _, folder = setup(fake_dagger_env, project_dir)
    other = hub.add("Beta")
    other_folder = host_copies.copies_dir(app_paths().data_dir, hub.store.get(other).data_key)

    async def scenario() -> None:
        for project in (pid, other):
            await hub.orch.start(project)
            assert hub.orch.state(project) == S.RUNNING, hub.orch.message(project)
            await hub.orch.stop(project)
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()
    assert host_copies.list_copies(folder) and host_copies.list_copies(other_folder)
    assert cchub(["remove", "Alpha", "--delete-data", "--yes"]) == 0
    assert not folder.exists()
    assert cchub(["remove", "Beta"]) == 0
    assert len(host_copies.list_copies(other_folder)) == 1


def test_a_restore_that_fails_starts_nothing_on_the_empty_database(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub, pid, volumes, key, folder = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    async def scenario() -> None:
        await hub.orch.start(pid)
        volumes.set_tables(volume, ROWS)
        await hub.orch.stop(pid)
        volumes.wipe(volume)
        fake_dagger_env.set(exec_fail="--single-transaction:3:psql: error: out of disk space")
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.ERROR
        message = hub.orch.message(pid) or ""
        assert "The engine had discarded Alpha's database and restoring the copy of" in message
        assert str(folder) in message
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()
    uvicorn = [r for r in fake_dagger_env.journal.services("start") if r["service_kind"] == "uvicorn"]
    assert len(uvicorn) == 1                                   # the backend (and its migrations) never ran again
    assert [c.number for c in host_copies.list_copies(folder)] == [1]   # the copy is untouched


def test_rag_storage_is_archived_with_the_dump_and_restored_with_it(
        fake_dagger_env: FakeDagger, project_dir: Path, port_block: object) -> None:
    import asyncio
    import dataclasses

    from cchub_desktop.settings import AppSettings
    from cchub_desktop.stack import CommandCenterStack, StackLog
    from cchub_desktop.stack.host_copy import RAG_PATH, rag_storage_mount
    from cchub_desktop.stack.recipe import CacheMount
    from tests.test_stack import make_config

    volumes = fake_dagger_env.keep_volumes()
    config = make_config(project_dir, port_block)  # type: ignore[arg-type]
    rag = CacheMount(RAG_PATH, f"cchub-{config.data_key}-rag-storage", "SHARED")

    def stack_with_rag() -> CommandCenterStack:
        stack = CommandCenterStack(config, AppSettings(), StackLog())
        backend = stack.recipe.service("backend")
        with_rag = dataclasses.replace(backend, caches=(*backend.caches, rag))
        stack.recipe = dataclasses.replace(stack.recipe, services=tuple(
            with_rag if s.name == "backend" else s for s in stack.recipe.services))
        assert rag_storage_mount(stack.recipe) == rag
        return stack

    async def cycle() -> str:
        stack = stack_with_rag()
        await stack.start()
        await stack.stop()
        return "\n".join(line.text for line in stack.log.lines()[1])

    asyncio.run(cycle())
    volumes.wipe(config.pgdata_volume)
    text = asyncio.run(cycle())
    assert config.host_copies_dir is not None
    newest = host_copies.list_copies(config.host_copies_dir)[0]
    assert newest.rag is not None and newest.rag.stat().st_size > 0
    assert "rag_storage included" in text and "restored the copy of" in text
    tars = [e for e in fake_dagger_env.journal.execs() if e["command"][0] == "tar"]
    assert [e["command"][1] for e in tars] == ["--create", "--extract", "--create"]


def test_a_stop_whose_copy_cannot_finish_in_its_bound_still_stops_and_says_so(
        fake_dagger_env: FakeDagger, project_dir: Path, monkeypatch: object) -> None:
    from cchub_desktop.stack import host_copy

    hub, pid, _, _, folder = setup(fake_dagger_env, project_dir)

    async def scenario() -> None:
        await hub.orch.start(pid)
        await hub.orch.stop(pid)                                   # copy 1
        monkeypatch.setattr(host_copy, "STOP_COPY_TIMEOUT", 0.0)   # type: ignore[attr-defined]
        await hub.orch.start(pid)
        await hub.orch.stop(pid)
        assert hub.orch.state(pid) == S.STOPPED
        await hub.orch.aclose()

    text = run_and_read(hub, pid, scenario)
    assert "the copy at stop did not finish within 0 s; stopping without it (the older copies are kept" in text
    # nothing partial
    assert files_in(folder) == ["copy-000001.json", "copy-000001.rag.tar.gz", "copy-000001.sql", "status.json"]
    status = host_copies.read_status(folder)
    assert status is not None and not status.ok
    fake_dagger_env.sessions_exited(30)
    assert not fake_dagger_env.journal.running_services()
