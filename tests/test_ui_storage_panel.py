"""The Storage tab: where the selected project's data is kept — its engine cache volumes, the host copies the
app keeps (the last one, when, how big; a failed attempt said first), the user's backups and its logs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop import host_copies
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.recipe import build_recipe
from cchub_desktop.ui.storage_panel import NO_COPY_YET

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger
    from pytestqt.qtbot import QtBot

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]


def write_copy(folder: Path, reason: str, data: bytes) -> host_copies.HostCopy:
    new = host_copies.NewCopy(folder, reason)
    new.dump_temp.write_bytes(data)
    return new.commit()


def test_the_storage_tab_shows_volumes_copies_backups_and_logs(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path, tmp_path: Path) -> None:
    hub = gui_hub
    pid = hub.add_project("Acme", project_dir)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = hub.add_project("Bystander", other_dir)
    project = hub.store.get(pid)
    key = project.data_key
    folder = host_copies.copies_dir(hub.paths.data_dir, key)
    write_copy(folder, "stop", b"-- dump 1\n")
    copy = write_copy(folder, "periodic", b"-- PostgreSQL database dump\n" * 100)
    hub.paths.backups_dir.mkdir(parents=True, exist_ok=True)
    (hub.paths.backups_dir / f"{project.slug}-20261205-120000.sql").write_text("-- dump\n")
    hub.paths.log_file(key).write_text("x" * 2500)

    hub.window.select_project(pid)
    hub.window.bottom_tabs.setCurrentWidget(hub.window.storage)
    qtbot.waitUntil(lambda: len(hub.window.storage.rows()) == 9)
    rows = {what: (where, detail) for what, where, detail in hub.window.storage.rows()}
    # the caches every project's builds share: exactly those the recipe mounts, named as the engine knows them
    recipe = build_recipe(CommandCenterConfig.for_plan(project, AppSettings()))
    shared = {cache.volume for spec in recipe.services for cache in spec.caches if key not in cache.volume}
    assert {where.removeprefix("engine cache volume ") for what, (where, _) in rows.items()
            if what.startswith("Shared cache: ")} == shared == {"cchub-pip-cache", "cchub-npm-cache",
                                                                 "cchub-huggingface-cache"}
    assert rows["Shared cache: pip downloads"][1].startswith("all projects' builds; no size")
    assert rows["Database"][0] == f"engine cache volume cchub-{key}-pgdata"
    assert rows["rag_storage"][0] == f"engine cache volume cchub-{key}-rag-storage"
    where, detail = rows["Host copies (the true copy)"]
    assert where == str(folder)
    assert detail == (f"last: copy 2, today {copy.taken_at:%H:%M} (periodic), "
                      f"{host_copies.human_size(copy.size)}; 2 kept")
    assert rows["Your backups"][1] == f"1, newest {project.slug}-20261205-120000.sql"
    assert rows["Logs"][1] == "2.5 kB"
    assert hub.window.storage.open_copies.isEnabled()

    # a copy that failed is said first; the older copies are still there
    host_copies.write_status(folder, host_copies.CopyStatus(False, datetime.now().astimezone(), "disk full"))
    hub.window.select_project(other)
    hub.window.select_project(pid)
    qtbot.waitUntil(lambda: "the latest copy failed" in dict(
        (w, d) for w, _, d in hub.window.storage.rows()).get("Host copies (the true copy)",
                                                              ""))
    assert "disk full" in hub.window.storage.rows()[3][2] and "2 kept" in hub.window.storage.rows()[3][2]

    hub.window.select_project(other)                              # a project never stopped yet: no copy
    qtbot.waitUntil(lambda: any(d == NO_COPY_YET for _, _, d in hub.window.storage.rows()))
    assert not hub.window.storage.open_copies.isEnabled()
