"""The pinned CommandCenter source: a first start pins the ref's commit, later starts build that commit even
after the branch moved, `cchub update` moves the pin (old → new), a local checkout shows its HEAD."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.cli import main as cchub
from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.source_pin import VERIFIED_COMMIT, local_head
from cchub_desktop.store import ProjectStatus, ProjectStore


def _store_with_project(project_dir: Path) -> tuple[ProjectStore, int]:
    from fake_dagger.fixtures import free_port_block

    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    b = free_port_block()
    project = store.add("Pinned", project_dir, backend_port=b.backend, frontend_port=b.frontend,
                        postgres_port=b.postgres, redis_port=b.redis)
    assert project.id is not None
    return store, project.id


def _start_and_stop(store: ProjectStore, pid: int) -> None:
    paths = app_paths()

    async def scenario() -> None:
        orch = Orchestrator(store, AppSettings(), paths)
        await orch.start(pid)
        assert orch.state(pid) == ProjectStatus.RUNNING, orch.message(pid)
        await orch.stop(pid)
        await orch.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_first_start_pins_the_commit_and_later_starts_build_it_after_the_branch_moved(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    store, pid = _store_with_project(project_dir)
    _start_and_stop(store, pid)
    pinned = store.get(pid)
    # the default source pins the commit this release was verified against, not main's newest
    assert pinned.source_commit == VERIFIED_COMMIT
    assert (pinned.source_url, pinned.source_ref) == (AppSettings().source_git_url, "main")
    first_session = {s.pid for s in fake_dagger_env.journal.sessions()}

    fake_dagger_env.set(git_revision=2)          # upstream's main moved on
    _start_and_stop(store, pid)
    assert store.get(pid).source_commit == pinned.source_commit
    second = [c for c in fake_dagger_env.journal.calls(type="GitRepository") if c["pid"] not in first_session]
    # every source of the second start is git(url).commit(<the pin>): the moved branch is never asked for
    assert second and {(c["field"], c["args"]["id"]) for c in second} == {("commit", pinned.source_commit)}
    store.close()


def test_cchub_update_moves_the_pin_and_says_old_and_new(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, pid = _store_with_project(project_dir)
    _start_and_stop(store, pid)
    old = store.get(pid).source_commit
    assert old is not None

    assert old == VERIFIED_COMMIT

    # the newest commit of main is not the verified one, and the update says so
    assert cchub(["update", "Pinned"]) == 0
    newest = store.get(pid).source_commit
    assert newest is not None and newest != old
    assert (f"CommandCenter for 'Pinned': {old[:7]} → {newest[:7]} (not verified with this release, which was "
            f"verified against {VERIFIED_COMMIT[:7]})") in capsys.readouterr().out
    assert cchub(["update", "Pinned"]) == 0
    assert f"CommandCenter for 'Pinned': already at the newest commit {newest[:7]}" in capsys.readouterr().out

    fake_dagger_env.set(git_revision=3)
    assert cchub(["update", "Pinned"]) == 0
    new = store.get(pid).source_commit
    assert new is not None and new != newest
    assert f"CommandCenter for 'Pinned': {newest[:7]} → {new[:7]}" in capsys.readouterr().out

    assert cchub(["list", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert (row["source_commit"], row["source_commit_short"]) == (new, new[:7])
    assert cchub(["plan", "Pinned"]) == 0
    assert f"commit:  pinned to {new[:7]} of main" in capsys.readouterr().out
    assert cchub(["plan", "Pinned", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source_commit"] == new
    store.close()


def test_update_of_a_running_project_applies_at_the_next_start(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, pid = _store_with_project(project_dir)
    store.record_source_pin(pid, AppSettings().source_git_url, "main", "a" * 40, None)
    store.set_status(pid, ProjectStatus.RUNNING)
    assert cchub(["update", "Pinned"]) == 0
    out = capsys.readouterr().out
    assert f"CommandCenter for 'Pinned': aaaaaaa → {store.get(pid).source_commit[:7]}" in out  # type: ignore[index]
    assert "applies at its next start" in out
    store.close()


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_COMMITTER_DATE": "2026-11-30T10:00:00+00:00",
                        "GIT_AUTHOR_DATE": "2026-11-30T10:00:00+00:00", "HOME": str(folder)})


def test_a_local_checkout_shows_its_head_and_uncommitted_changes(tmp_path: Path) -> None:
    folder = tmp_path / "checkout"
    folder.mkdir()
    assert local_head(folder).describe() == "local folder (not a git checkout)"
    (folder / "README.md").write_text("x\n")
    _git(folder, "init", "-q")
    _git(folder, "add", "README.md")
    _git(folder, "commit", "-qm", "first")
    head = local_head(folder)
    assert head.commit is not None and len(head.commit) == 40
    assert head.describe() == f"local checkout at {head.commit[:7]} (2026-11-30)"
    (folder / "README.md").write_text("changed\n")
    dirty = local_head(folder).describe()
    assert dirty == f"local checkout at {head.commit[:7]} (2026-11-30), with uncommitted changes"


def test_build_progress_names_the_pip_step_elapsed_time_and_first_build_in_cchub_up_and_the_window_status(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cchub_desktop.lifecycle_events import phase_text
    from cchub_desktop.orchestrator import OrchestratorEvent

    store, pid = _store_with_project(project_dir)
    fake_dagger_env.set(exec_tail_delay=0.5)   # pip's output arrives while it still runs, as in a real build
    events: list[OrchestratorEvent] = []

    async def scenario() -> None:
        orch = Orchestrator(store, AppSettings(), app_paths())
        orch.subscribe(events.append)
        await orch.start(pid)
        assert orch.state(pid) == ProjectStatus.RUNNING, orch.message(pid)
        await orch.stop(pid)
        await orch.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    # what the window's status column and the tray show while starting (phase_text of the event's phase)
    texts = [phase_text(e.phase) for e in events if e.status == ProjectStatus.STARTING and e.phase]
    backend = [t for t in texts if t.startswith("building the backend (")]
    assert any("pip: downloading torch" in t for t in backend), texts
    assert any("pip: building psycopg2" in t for t in backend), texts
    assert all("first build of this project: several minutes" in t for t in backend)
    assert any(t.startswith("building the frontend (npm ci") for t in texts), texts
    log = (app_paths().logs_dir / f"{store.get(pid).data_key}.log").read_text()
    assert "[hub] first build of this project: several minutes" in log
    assert "[hub] backend built in 0:0" in log, log

    store.close()
    fake_dagger_env.sessions_exited()
    # cchub up of a project that ran before: the steps, no first-build warning
    import os
    import signal
    import sys

    from tests.helpers import wait_for

    env = {**os.environ, **fake_dagger_env.env()}
    proc = subprocess.Popen([sys.executable, "-m", "cchub_desktop.cli", "up", "Pinned"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    import threading

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: any("Press Ctrl-C" in x for x in lines) or proc.poll() is not None, timeout=60)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, (lines, proc.stderr.read() if proc.stderr else "")
    reader.join(5)
    assert any(x.startswith("[Pinned] building the backend: pip: downloading torch · 0:0") for x in lines), lines
    assert not any("first build" in x for x in lines), lines


def test_the_plan_of_a_new_project_names_the_verified_commit(
        project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _pid = _store_with_project(project_dir)
    store.close()
    assert cchub(["plan", "Pinned"]) == 0
    assert (f"commit:  not pinned yet (the first start pins the verified commit {VERIFIED_COMMIT[:7]} (2026-01-02))"
            in capsys.readouterr().out)
