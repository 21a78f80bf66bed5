"""The Services tab's Restart service: the orchestrator restarts one service in the running stack's own session
(and those bound to it); the outcome is one line in the status bar, or one box saying why not."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:   # asyncio only once a restart is asked for (paint first)
    import asyncio

    from cchub_desktop.ui.main_window import MainWindow


def restart_service(window: MainWindow, service: str) -> None:
    row = window.selected_row()
    if row is None or not window.attached:
        return
    name = row.project.name
    window.services.set_restarting(True)
    window.statusBar().showMessage(f"{name}: restarting {service}…")
    task = window.bridge.run(window.orchestrator.restart_service(row.project_id, service))
    task.add_done_callback(lambda t: _restarted(window, name, service, t))


def _restarted(window: MainWindow, name: str, service: str, task: asyncio.Task[str]) -> None:
    window.services.set_restarting(False)
    window.statusBar().clearMessage()
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        window.show_error(f"{name}: the {service} was not restarted",
                          getattr(error, "user_message", None) or str(error),
                          in_log=getattr(error, "logged", False))
    else:
        window.statusBar().showMessage(f"{name}: {task.result()}", 20000)
