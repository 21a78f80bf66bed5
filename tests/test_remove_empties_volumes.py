"""`cchub remove --delete-data` empties the project's database volume on an engine that, like the real one
(Dagger v0.21.8), keeps one volume per name, sharing mode and owner: the volume is emptied through the same
mount options the stack runs PostgreSQL with. Through any other mount the real engine reached another, empty
volume and the database survived the removal."""

from __future__ import annotations

from pathlib import Path

from fake_dagger.fixtures import FakeDagger

from tests.test_host_copy import ROWS, run_with_rows, setup


def test_remove_with_delete_data_empties_the_database_volume(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    from cchub_desktop.cli import main as cchub

    hub, pid, volumes, key, _ = setup(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"

    run_with_rows(hub, pid, volumes, volume)
    assert volumes.tables(volume) == ROWS
    assert cchub(["remove", "Alpha", "--delete-data", "--yes"]) == 0
    assert not volumes.exists(volume)
