"""The window follows other processes: projects added, edited or removed by `cchub`, and stacks that a
`cchub up` runs or ended. Once a second it asks SQLite whether another connection committed
(store/change_watch.py) and the orchestrator who holds each project's lease (lease.py)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer

from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.store.change_watch import StoreWatch
from cchub_desktop.store.rows import StoreError, read_projects
from cchub_desktop.ui.log_history import FileTail
from cchub_desktop.ui.main_window import MainWindow

logger = logging.getLogger(__name__)
POLL_MS = 1000


class StoreFollower(QObject):
    def __init__(self, window: MainWindow, orchestrator: Orchestrator, interval_ms: int = POLL_MS) -> None:
        super().__init__(window)
        self.window = window
        self.orchestrator = orchestrator
        self.watch = StoreWatch(orchestrator.db_file)
        self.watch.changed()   # the baseline
        self._shape = self._window_shape()
        self._tail: tuple[int, FileTail] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def _window_shape(self) -> tuple[tuple[object, ...], ...]:
        return tuple(_shape_of(r.project) for r in self.window.model.rows())

    def poll(self) -> None:
        try:
            self._follow_log()
            if not self.watch.changed():
                self.orchestrator.poll_others()
                return
            rows = read_projects(self.orchestrator.db_file)
        except (StoreError, OSError) as exc:
            logger.warning("could not follow the project database: %s", exc)
            return
        if rows is None:
            return
        shape = tuple(_shape_of(r) for r in rows)
        if shape != self._window_shape():
            self.orchestrator.forget_keys()
            self.window.reload()    # added, removed or edited elsewhere
        self.orchestrator.poll_others([(r.id, r.data_key, r.status, r.last_error) for r in rows
                                       if r.id is not None])

    def _follow_log(self) -> None:
        """The selected project runs in another process: show what it writes to the project's log file."""
        pid = self.window.selected_id()
        owner = self.orchestrator.owner(pid) if pid is not None else None
        if pid is None or owner is None or not owner.runs_stack:
            self._tail = None
            return
        log_file = self.orchestrator.log(pid).log_file
        if log_file is None:
            return
        if self._tail is None or self._tail[0] != pid:
            self._tail = (pid, FileTail(log_file))   # what was there already came in as history
            return
        self.window.log_view.append(self._tail[1].read())

    def stop(self) -> None:
        self.timer.stop()
        self.watch.close()


def _shape_of(p: object) -> tuple[object, ...]:
    """What the table shows of a project, but its state (which events carry)."""
    return tuple(getattr(p, f) for f in ("id", "name", "path", "backend_port", "frontend_port",
                                         "postgres_port", "redis_port", "expose_db", "source_commit"))
