"""Where a project's data lives: its PostgreSQL cache volume is named once, at creation, and never changes
(restarts, renames), no two projects share one, and removing a project keeps it unless the user asked to
delete the data — re-adding the project then finds its database and its password again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus
from tests.test_reliability_faults import Hub, run

S = ProjectStatus


def pgdata_by_session(fake: FakeDagger) -> list[str]:
    """The PostgreSQL data volume of each PostgreSQL start, in start order."""
    starts = sorted((r for r in fake.journal.services("start") if r["service_kind"] == "postgres"),
                    key=lambda r: r["ts"])
    return [m["source"] for r in starts for m in r["mounts"] if m["path"] == "/var/lib/postgresql/data"]


def test_the_postgres_volume_is_stable_across_restarts_and_renames_and_unique_per_project(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = Hub(fake_dagger_env, project_dir)
    alpha, beta = hub.add("Alpha"), hub.add("Beta")

    async def cycle(pid: int) -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.stop(pid)

    async def scenario() -> None:
        await cycle(alpha)
        await cycle(alpha)
        hub.store.update(alpha, name="Alpha (renamed)")
        await cycle(alpha)
        await cycle(beta)
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()
    volumes = pgdata_by_session(fake_dagger_env)
    assert volumes[:3] == ["cchub-alpha-pgdata"] * 3     # two restarts and a rename later: the same data
    assert volumes[3] == "cchub-beta-pgdata"
    assert len(fake_dagger_env.journal.sessions()) == 4   # a session per start: only the volume carried over


def test_a_project_removed_with_its_data_kept_finds_it_again_when_added_back(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = Hub(fake_dagger_env, project_dir)
    first = hub.add("Alpha")
    readme = (project_dir / "README.md").read_bytes()

    async def scenario() -> None:
        await hub.orch.start(first)
        await hub.orch.stop(first)
        await hub.orch.remove(first)                      # keep the data (the dialog's default)

    try:
        run(scenario())
        secrets = secrets_file(app_paths().secrets_dir, "alpha")
        kept = secrets.read_bytes()
        again = hub.add("alpha")
        assert hub.store.get(again).slug == "alpha"

        async def restart() -> None:
            await hub.orch.start(again)
            assert hub.orch.state(again) == S.RUNNING, hub.orch.message(again)
            await hub.orch.aclose()

        run(restart())
    finally:
        hub.store.close()
    assert pgdata_by_session(fake_dagger_env) == ["cchub-alpha-pgdata", "cchub-alpha-pgdata"]
    assert secrets.read_bytes() == kept                   # the password the old database was made with
    assert (project_dir / "README.md").read_bytes() == readme and sorted(p.name for p in project_dir.iterdir()) == [
        "README.md"]


def test_cchub_remove_keeps_the_data_unless_asked_and_confirmed(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub(fake_dagger_env, project_dir)
    hub.add("Alpha")
    run(_cycle(hub))
    hub.store.close()
    secrets = secrets_file(app_paths().secrets_dir, "alpha")
    assert secrets.exists()
    capsys.readouterr()

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))          # not a terminal: no way to ask
    assert cchub(["remove", "alpha", "--delete-data"]) == 1
    assert "needs --yes when not run from a terminal; nothing was removed" in capsys.readouterr().err
    assert cchub(["list", "--json"]) == 0 and '"Alpha"' in capsys.readouterr().out

    sessions = len(fake_dagger_env.journal.sessions())
    assert cchub(["remove", "alpha", "--delete-data", "--yes"]) == 0
    assert "Removed 'Alpha'" in capsys.readouterr().out
    wipes = [e for e in fake_dagger_env.journal.execs() if "-delete" in " ".join(e["command"])]
    assert wipes and len(fake_dagger_env.journal.sessions()) > sessions
    emptied = {c["args"]["key"] for c in fake_dagger_env.journal.calls(field="cacheVolume")
               if c["pid"] not in {s.pid for s in fake_dagger_env.journal.sessions()[:sessions]}}
    assert emptied == {"cchub-alpha-pgdata", "cchub-alpha-redis"}   # never the shared pip/npm caches
    assert not secrets.exists()
    assert sorted(p.name for p in project_dir.iterdir()) == ["README.md"]
    fake_dagger_env.sessions_exited()


async def _cycle(hub: Hub) -> None:
    pid = next(p.id for p in hub.store.list() if p.id is not None)
    await hub.orch.start(pid)
    await hub.orch.aclose()


def test_cchub_remove_says_the_data_is_kept(project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cchub(["add", "Alpha", str(project_dir)]) == 0
    assert cchub(["remove", "alpha"]) == 0
    out = capsys.readouterr().out
    assert f"Its folder {project_dir} was not touched." in out
    assert "Its database and passwords are kept: a project added again as 'Alpha' uses them" in out
