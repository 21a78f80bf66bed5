"""Where a project's data lives: its PostgreSQL cache volume is named once, at creation, and never changes
(restarts, renames), no two projects share one, and removing a project keeps it unless the user asked to
delete the data. A project added later under the same name gets data of its own; it takes over the kept data
(its database and its password) only when the user asks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus, ProjectStore
from tests.helpers import key_of
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
    key = ProjectStore(app_paths().db_file).get(alpha).data_key
    assert volumes[:3] == [f"cchub-{key}-pgdata"] * 3     # two restarts and a rename later: the same data
    assert volumes[3] != volumes[0] and volumes[3].endswith("-pgdata")
    assert len(fake_dagger_env.journal.sessions()) == 4   # a session per start: only the volume carried over


def test_data_follows_identity_a_new_project_of_the_same_name_gets_new_data_unless_it_asks(
        fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Remove "My App" keeping its data, add "my app." (another folder, the same slug): it gets new volumes
    and new passwords; the old data is adopted only with --adopt-data, and then exactly it."""
    hub = Hub(fake_dagger_env, project_dir)
    first = hub.add("My App")
    readme = (project_dir / "README.md").read_bytes()
    other = tmp_path / "other"
    other.mkdir()

    async def cycle(pid: int) -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        await hub.orch.stop(pid)

    try:
        run(cycle(first))
        old_key = hub.store.get(first).data_key
        secrets = secrets_file(app_paths().secrets_dir, old_key)
        kept = secrets.read_bytes()
        run(hub.orch.remove(first))                      # keep the data (the dialog's default)
        capsys.readouterr()
        assert cchub(["add", "my app.", str(other)]) == 0
        said = capsys.readouterr().out
        assert "A removed project named 'My App' left its data" in said and "--adopt-data" in said
        stranger = hub.store.get_by_name("my app.")
        assert stranger.slug == "my-app" and stranger.data_key != old_key
        assert stranger.id is not None
        run(cycle(stranger.id))
        assert secrets.read_bytes() == kept                                       # not touched, not shared
        assert secrets_file(app_paths().secrets_dir, stranger.data_key).read_bytes() != kept
        assert cchub(["remove", "my app.", "--delete-data", "--yes"]) == 0
        assert secrets.read_bytes() == kept                  # deleting the stranger's data left the old data

        assert cchub(["add", "my app", str(project_dir), "--adopt-data"]) == 0
        assert "It uses the data that 'My App' left" in capsys.readouterr().out
        again = hub.store.get_by_name("my app")
        assert again.data_key == old_key and again.id is not None
        run(cycle(again.id))
        assert cchub(["add", "My App 2", str(project_dir), "--adopt-data"]) == 1     # nothing left to adopt
        run(hub.orch.aclose())
    finally:
        hub.store.close()
    volumes = pgdata_by_session(fake_dagger_env)
    assert volumes[0] == volumes[2] == f"cchub-{old_key}-pgdata"      # the old data, found again on request
    assert volumes[1] != volumes[0]
    assert secrets.read_bytes() == kept                  # the password the old database was made with
    assert (project_dir / "README.md").read_bytes() == readme


def test_cchub_remove_keeps_the_data_unless_asked_and_confirmed(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub(fake_dagger_env, project_dir)
    hub.add("Alpha")
    run(_cycle(hub))
    hub.store.close()
    key = key_of("alpha")
    secrets = secrets_file(app_paths().secrets_dir, key)
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
    # its own volumes, never the shared pip/npm/model caches
    assert emptied == {f"cchub-{key}-pgdata", f"cchub-{key}-redis", f"cchub-{key}-rag-storage"}
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
    assert ("Its database and passwords are kept: add it again with 'cchub add \"Alpha\" FOLDER --adopt-data' to "
            "use them") in out
