"""Where a project's data lives: its PostgreSQL cache volume is named once, at creation, and never changes
(restarts, renames), no two projects share one, and removing a project keeps it unless the user asked to
delete the data — re-adding the project then finds its database and its password again."""

from __future__ import annotations

from pathlib import Path

from fake_dagger import fixtures as fake_fixtures
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus
from tests.test_reliability_faults import Hub, run

fake_dagger_env = fake_fixtures.fake_dagger_env   # the fake engine's pytest fixtures
S = ProjectStatus


def pgdata_by_session(fake: FakeDagger) -> list[str]:
    """The PostgreSQL data volume of each PostgreSQL start, in start order."""
    starts = sorted((r for r in fake.journal.services("start") if str(r["image"]).startswith("postgres")),
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
