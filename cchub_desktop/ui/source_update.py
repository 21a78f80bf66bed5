"""The window's "Update CommandCenter": moves the selected project's pin to the newest commit, on the asyncio
loop; the status bar says old → new, an error box says why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from cchub_desktop.engine_jobs import JobReport
    from cchub_desktop.ui.main_window import MainWindow

UPDATE_SOURCE = "Update CommandCenter"


def update_selected(window: MainWindow) -> None:
    row = window.selected_row()
    if row is None:
        return
    name, pid = row.project.name, row.project_id
    window.statusBar().showMessage(f"Looking for the newest CommandCenter commit for {name}…")
    task = window.bridge.run(window.orchestrator.update_source(pid))
    task.add_done_callback(lambda t: _updated(window, name, pid, t))


def _updated(window: MainWindow, name: str, pid: int, task: asyncio.Task[JobReport]) -> None:
    window.statusBar().clearMessage()
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        window.show_error(f"{name}: CommandCenter was not updated", str(error), in_log=getattr(error, "logged", False))
        return
    window.reload(select_id=pid)
    window.statusBar().showMessage(task.result().headline, 20000)
