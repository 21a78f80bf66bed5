"""The Storage tab lists the data removed projects left, and its Delete… asks first, then deletes it in a job
process (volumes emptied through the engine, files deleted) and the list says nothing is kept."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from cchub_desktop import host_copies
from cchub_desktop.ui.storage_panel import NO_KEPT
from tests.test_ui_storage_panel import write_copy

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger
    from pytestqt.qtbot import QtBot

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]


def _box(hub: GuiHub) -> QMessageBox | None:
    shown = [b for b in hub.window.findChildren(QMessageBox, "delete_kept_box") if b.isVisible()]
    assert len(shown) <= 1
    return shown[0] if shown else None


def test_kept_data_is_listed_and_deleted_from_the_storage_tab_after_asking(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    volumes = fake_dagger_env.keep_volumes()
    pid = hub.add_project("Gone", project_dir)
    key = hub.store.get(pid).data_key
    hub.store.record_secrets(pid, "fingerprint")
    volumes.set_tables(f"cchub-{key}-pgdata", {"public.notes": 3})
    copies = host_copies.copies_dir(hub.paths.data_dir, key)
    write_copy(copies, "stop", b"-- dump\n")
    hub.store.remove(pid)   # data kept

    storage = hub.window.storage
    hub.window.bottom_tabs.setCurrentWidget(storage)
    qtbot.waitUntil(lambda: bool(storage.kept_rows()) and storage.kept_rows()[0][0] == "Gone")
    what = storage.kept_rows()[0][2]
    assert "1 host copy," in what and "3 engine volumes" in what
    assert not storage.delete_button.isEnabled()   # nothing selected yet

    storage.kept_tree.topLevelItem(0).setSelected(True)
    assert storage.delete_button.isEnabled()
    # asked first: Cancel deletes nothing
    storage.delete_button.click()
    qtbot.waitUntil(lambda: _box(hub) is not None)
    box = _box(hub)
    assert box is not None and "cannot be undone" in box.text() and "'Gone'" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: _box(hub) is None)
    assert copies.exists() and volumes.tables(f"cchub-{key}-pgdata") == {"public.notes": 3}

    hub.orchestrator.runners = True   # as in the app: the deletion is a job process of its own
    storage.delete_button.click()
    qtbot.waitUntil(lambda: _box(hub) is not None)
    box = _box(hub)
    assert box is not None
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    delete.click()
    qtbot.waitUntil(lambda: storage.kept_rows() == [(NO_KEPT, "", "")], timeout=60_000)
    assert "Deleted 'Gone'" in hub.window.statusBar().currentMessage()
    assert not volumes.exists(f"cchub-{key}-pgdata")
    assert not copies.exists()
    assert hub.orchestrator.kept_data() == []
