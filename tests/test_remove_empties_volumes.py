"""`cchub remove --delete-data` empties the project's database volume on an engine that, like the real one
(Dagger v0.21.8), keeps one volume per name, sharing mode and owner: the volume is emptied through the same
mount options the stack runs PostgreSQL with. Through any other mount the real engine reached another, empty
volume and the database survived the removal."""

from __future__ import annotations

from pathlib import Path

from fake_dagger.fixtures import FakeDagger

from cchub_desktop.store import ProjectStatus
from tests.test_host_copy import ROWS, setup
from tests.test_reliability_faults import run


def test_remove_with_delete_data_empties_the_database_volume(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from cchub_desktop.cli import main as cchub

    hub, pid, volumes, key, _ = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == ProjectStatus.RUNNING, hub.orch.message(pid)
        volumes.set_tables(volume, ROWS)
        await hub.orch.stop(pid)
        await hub.orch.aclose()

    try:
        run(scenario())
    finally:
        hub.store.close()
    assert volumes.tables(volume) == ROWS
    assert cchub(["remove", "Alpha", "--delete-data", "--yes"]) == 0
    assert not volumes.exists(volume)
