"""Words a user reads must be true: a failed backup does not say the stack stopped; a failed project is
"Failed" in the window, the tray and `cchub list`; a multi-line failure fits its Health cell with the rest one
hover away; the log never claims a pin to an empty commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterStack, StackError, StackLog
from cchub_desktop.stack.errors import map_error
from cchub_desktop.store import ProjectStatus
from cchub_desktop.store.rows import ProjectRow as StoredProject
from cchub_desktop.ui.project_table_model import Column, ProjectRow, ProjectTableModel
from cchub_desktop.ui.tray_menu import STATUS_WORDS
from tests.cli_process import cchub
from tests.test_stack import make_config


def test_a_system_error_during_a_backup_says_what_failed_not_that_the_stack_stopped() -> None:
    error = map_error(PermissionError(13, "Permission denied", "/data/backups/acme.sql"), "backup",
                      "backing up the database")
    assert "stopped the stack" not in error.user_message
    assert error.user_message == "Backing up the database failed: Permission denied (/data/backups/acme.sql)."


def test_a_failed_project_is_failed_in_the_window_the_tray_and_the_cli(project_dir: Path) -> None:
    for status in ProjectStatus:
        row = ProjectRow(_stored(project_dir), status)
        assert row.status_text().rstrip("…") == STATUS_WORDS[status].rstrip("…")
    assert ProjectRow(_stored(project_dir), ProjectStatus.ERROR).status_text() == "Failed"
    assert cchub("add", "acme", str(project_dir)).returncode == 0
    from cchub_desktop.paths import app_paths
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(app_paths().db_file)
    store.set_status(store.get_by_name("acme").id or 0, ProjectStatus.ERROR, "Port 3000 is in use.")
    store.close()
    listed = cchub("list")
    assert listed.returncode == 0 and " failed " in listed.stdout and " error " not in listed.stdout
    status = cchub("status", "acme")
    assert status.returncode == 0 and status.stdout.startswith("acme: failed")


def test_a_multi_line_failure_shows_its_first_line_in_the_health_cell_and_all_in_the_tooltip(
        project_dir: Path) -> None:
    message = ("Building the backend failed: `pip install -r requirements.txt` exited with code 1.\n"
               "Last output:\nERROR: No matching distribution found for fastapi==99")
    model = ProjectTableModel()
    model.set_rows([ProjectRow(_stored(project_dir), ProjectStatus.ERROR, message=message)])
    health = model.index(0, Column.HEALTH)
    assert health.data() == "Building the backend failed: `pip install -r requirements.txt` exited with code 1."
    assert health.data(_tooltip_role()) == message


def test_the_log_never_claims_a_pin_to_an_empty_commit(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_commit(*_args: object) -> str:
        return ""

    monkeypatch.setattr("cchub_desktop.stack.source_pin.resolve_commit", no_commit)
    # a source other than the verified default: its commit is asked of the engine
    monkeypatch.setattr("cchub_desktop.stack.source_pin.verified_commit", lambda *_a: None)
    pinned: list[str] = []
    log = StackLog()
    stack = CommandCenterStack(make_config(project_dir, port_block), AppSettings(), log)
    stack.on_source_pin = pinned.append
    with pytest.raises(StackError) as info:
        asyncio.run(stack.start())
    assert "named no commit" in info.value.user_message and "Settings → Source" in info.value.user_message
    assert "pinned to it" not in log.text() and pinned == []
    fake_dagger_env.sessions_exited()
    assert fake_dagger_env.journal.running_services() == []


def _stored(folder: Path) -> StoredProject:
    import dataclasses
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    fields: dict[str, object] = {f.name: None for f in dataclasses.fields(StoredProject)}
    fields.update(id=1, name="acme", name_key="acme", slug="acme", path=str(folder), frontend_port=3000,
                  backend_port=8000, postgres_port=5432, redis_port=6379, expose_db=False, status="stopped",
                  created_at=now, updated_at=now, data_key="p0123")
    return StoredProject(**fields)  # type: ignore[arg-type]


def _tooltip_role() -> int:
    from PySide6.QtCore import Qt

    return int(Qt.ItemDataRole.ToolTipRole)
