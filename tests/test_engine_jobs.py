"""The window's engine jobs (back up a stopped project, update its source, upgrade its database, remove it with
its data) each run as `cchub VERB --json` in a process of its own (engine_jobs.py): the window never imports
the Dagger SDK for them, a job that hangs is ended with its engine session within its bound, and no start
slips in while one runs. Real processes on the test engine."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import engine_jobs
from cchub_desktop.lease import owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.errors import StackError
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.test_runners import Window, add_project, run, run_window_side, until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="jobs are detached with POSIX sessions here")


def test_the_windows_engine_jobs_run_in_processes_of_their_own_and_it_never_imports_dagger(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_project(project_dir, port_block)
    lines = run_window_side(
        "    dump = await orch.backup(pid)\n"
        "    print('backup', dump.parent == paths.backups_dir, 'PostgreSQL database dump' in dump.read_text())\n"
        "    print('update', (await orch.update_source(pid)).headline.startswith(\"CommandCenter for 'Demo'\"))\n"
        "    print('pinned', bool(store.get(pid).source_commit))\n"
        "    try:\n"
        "        await orch.upgrade_db(pid)\n"
        "    except StackError as exc:\n"
        "        print('upgrade', exc.user_message.splitlines()[0][:40])\n"
        "    await orch.remove(pid, delete_data=True)\n"
        "    print('removed', [p.name for p in store.list()])\n", timeout=300)
    assert lines[:3] == ["backup True True", "update True", "pinned True"], lines
    assert lines[3] == "upgrade 'Demo' has no database yet: its first st", lines   # said by the job
    assert lines[4:] == ["removed []", "[]"], lines
    # each job opened a session of its own, from a process of its own: backup, update, removal's wipe
    assert len(fake_dagger_env.journal.sessions()) >= 3
    fake_dagger_env.sessions_exited()


def test_a_job_that_hangs_is_ended_with_its_engine_session_and_no_start_slips_in_meanwhile(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pid = add_project(project_dir, port_block)
    fake_dagger_env.set(connect_hang=1)              # an engine that never answers
    monkeypatch.setitem(engine_jobs.JOB_BOUNDS, "backup", 6.0)

    async def scenario() -> None:
        window = Window()
        key = window.store.get(pid).data_key
        backup = asyncio.ensure_future(window.orch.backup(pid))
        await until(lambda: owner_of(window.paths.runtime_dir, key) is not None, "the job holds the lease", 30)
        owner = owner_of(window.paths.runtime_dir, key)
        assert owner is not None and owner.kind == "cchub backup" and owner.pid != os.getpid()
        assert window.orch.request_start(pid) is None           # refused, with a line saying why
        assert window.events[-1].notice == "'Demo' is being backed up; start it once that is done."
        with pytest.raises(StackError, match=r"The backup had not finished after 0 min; it was ended"):
            await backup
        assert owner_of(window.paths.runtime_dir, key) is None  # the job is gone, its lease free
        assert window.orch.state(pid) == ProjectStatus.STOPPED
        await window.close()

    run(scenario())
    fake_dagger_env.sessions_exited(15)   # nothing of it is left running


def test_quitting_during_a_backup_leaves_the_job_to_finish_and_keep_its_dump(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    pid = add_project(project_dir, port_block)
    fake_dagger_env.set(start_delay=3)              # PostgreSQL takes a moment to come up for the dump

    async def scenario() -> None:
        window = Window()
        key = window.store.get(pid).data_key
        backup = asyncio.ensure_future(window.orch.backup(pid))
        await until(lambda: owner_of(window.paths.runtime_dir, key) is not None, "the job holds the lease", 30)
        backup.cancel()                              # the window quits: its wait for the job is cancelled
        await asyncio.gather(backup, return_exceptions=True)
        await window.close()
        await until(lambda: owner_of(window.paths.runtime_dir, key) is None, "the job finished on its own", 90)
        assert [p.suffix for p in window.paths.backups_dir.glob("*.sql")] == [".sql"]

    run(scenario())
    store = ProjectStore(app_paths().db_file)
    try:
        assert store.get(pid).status == ProjectStatus.STOPPED.value
    finally:
        store.close()
    fake_dagger_env.sessions_exited()
