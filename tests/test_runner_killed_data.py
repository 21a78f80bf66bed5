"""A runner killed with SIGKILL writes no copy at its stop: what happened since the project's last host copy is
all it can lose. Its row says it stopped unexpectedly, and when the engine has discarded the volume meanwhile,
the next start restores the last copy before the migrations. Real processes: runners on the test engine,
whose volumes persist as the real engine's do (until a prune wipes them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import host_copies, runner_control
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStatus
from tests.test_runners import BOUND, Window, add_project, run, until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="runners are detached with POSIX sessions here")
S = ProjectStatus
COPIED = {"public.notes": 3, "public.projects": 2}        # in the database when the last copy was taken
AFTER = {"public.notes": 7, "public.projects": 2}          # written after it, before the kill


def test_a_killed_runner_loses_only_what_followed_the_last_copy(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    volumes = fake_dagger_env.keep_volumes()
    pid = add_project(project_dir, port_block)

    async def scenario() -> None:
        window = Window()
        key = window.store.get(pid).data_key
        volume = f"cchub-{key}-pgdata"
        folder = host_copies.copies_dir(app_paths().data_dir, key)
        await window.orch.start(pid)
        assert window.orch.state(pid) == S.RUNNING, window.orch.message(pid)
        volumes.set_tables(volume, COPIED)
        await window.orch.stop(pid)                          # the stop's copy: the last one
        assert [c.number for c in host_copies.list_copies(folder)] == [1]

        await window.orch.start(pid)
        assert window.orch.state(pid) == S.RUNNING, window.orch.message(pid)
        volumes.set_tables(volume, AFTER)                    # newer rows, in no copy
        run_ = window.orch.runner_of(pid)
        assert run_ is not None and run_.pid is not None
        assert runner_control.end(run_.pid) == [run_.pid]    # SIGKILL: the runner and its engine session
        await until(lambda: window.orch.state(pid) == S.ERROR, "the row shows the runner's death")
        assert "stopped unexpectedly (killed by SIGKILL)" in (window.orch.message(pid) or "")
        assert [c.number for c in host_copies.list_copies(folder)] == [1]   # no copy at a kill
        assert volumes.tables(volume) == AFTER               # the volume itself still holds everything

        volumes.wipe(volume)                                 # then the engine's collection pruned it
        await window.orch.start(pid)
        assert window.orch.state(pid) == S.RUNNING, window.orch.message(pid)
        assert volumes.tables(volume) == COPIED              # what followed the last copy is all that is lost
        text = "\n".join(line.text for line in window.orch.log(pid).lines()[1])
        assert "the engine had discarded this project's database; restored the copy of" in text
        await window.orch.stop(pid)
        await window.close()

    run(scenario())
    fake_dagger_env.sessions_exited(BOUND)
