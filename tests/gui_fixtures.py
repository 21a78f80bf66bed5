"""Shared GUI test fixtures: a qasync loop on the test QApplication, the app's window on a real store and
orchestrator, and an event-loop lag meter.

Use them by naming this module as a plugin in the test module:
``pytest_plugins = ["tests.gui_fixtures"]`` (tests/conftest.py provides ``fake_dagger_env``).

How async works here: ``qt_async`` creates a qasync QEventLoop on pytest-qt's ``qapp`` with
``already_running=True``, so asyncio sees a running loop whose callbacks are Qt timers and socket notifiers.
Nothing calls ``exec()``: coroutines run as loop tasks while ``qtbot.waitUntil`` (or ``qt_async.run``) spins
Qt's event processing, exactly as they would inside the real app. Teardown cancels what is left, lets the
cancellations run, and closes the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import qasync
from fake_dagger.fixtures import FakeDagger
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import DoctorReport, run_doctor
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.bridge import OrchestratorBridge
from cchub_desktop.ui.main_window import MainWindow
from tests.helpers import free_block_number


class QtAsync:
    """Run coroutines on the qasync loop while Qt processes events."""

    def __init__(self, loop: asyncio.AbstractEventLoop, qtbot: QtBot) -> None:
        self.loop = loop
        self.qtbot = qtbot

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return self.loop.create_task(coro)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
        """Run `coro` to the end while Qt spins; returns its result (or raises its exception)."""
        task = self.spawn(coro)
        try:
            self.qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        except Exception:
            task.cancel()
            raise
        return task.result()

    def wait(self, task: asyncio.Future[Any], timeout: float = 20.0) -> Any:
        self.qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()


def _drain(loop: asyncio.AbstractEventLoop, qtbot: QtBot, timeout: float) -> None:
    """Cancel the tasks still pending and let Qt run their cancellation."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    with contextlib.suppress(TimeoutError):
        qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=int(timeout * 1000))
    for task in pending:
        if task.done() and not task.cancelled():
            with contextlib.suppress(BaseException):
                task.exception()


@pytest.fixture
def qt_async(qapp: QApplication, qtbot: QtBot) -> Iterator[QtAsync]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield QtAsync(loop, qtbot)
    finally:
        _drain(loop, qtbot, timeout=10.0)
        asyncio.events._set_running_loop(None)
        # Not loop.stop(): it calls QApplication.exit(), whose quitNow flag makes every later QEventLoop.exec()
        # return at once, so qtbot.wait/waitUntil in the next test would never process an event. Mark it stopped.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        loop.close()
        asyncio.set_event_loop(None)


class LagMeter(QObject):
    """A precise timer that measures its own lateness: how long the event loop kept it waiting."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.interval = interval_ms / 1000
        self.samples: list[float] = []
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._expected = 0.0

    def start(self) -> None:
        self.samples.clear()
        self._expected = time.monotonic() + self.interval
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.monotonic()
        self.samples.append(max(0.0, now - self._expected))
        self._expected = now + self.interval

    def percentile(self, p: float) -> float:
        if len(self.samples) < 2:
            return self.samples[0] if self.samples else 0.0
        return statistics.quantiles(self.samples, n=100, method="inclusive")[int(p) - 1]


@dataclass
class GuiHub:
    """The app's parts as a user's launch builds them, on a fresh CCHUB_HOME."""

    paths: AppPaths
    store: ProjectStore
    settings: AppSettings
    orchestrator: Orchestrator
    bridge: OrchestratorBridge
    window: MainWindow
    aio: QtAsync
    qtbot: QtBot
    block: int = field(default_factory=lambda: free_block_number(start=random.randint(300, 5000), count=4))
    used_blocks: int = 0

    def next_ports(self) -> ports.PortBlock:
        """A port block free on this machine (not the 8000/3000 defaults other programs may hold)."""
        b = ports.block(self.block + self.used_blocks)
        self.used_blocks += 1
        return b

    def add_project(self, name: str, folder: Path, *, expose_db: bool = False) -> int:
        b = self.next_ports()
        project = self.store.add(name, folder, backend_port=b.backend, frontend_port=b.frontend,
                                 postgres_port=b.postgres, redis_port=b.redis, expose_db=expose_db)
        assert project.id is not None
        self.window.reload(select_id=project.id)
        return project.id


@pytest.fixture
def gui_hub(fake_dagger_env: FakeDagger, qt_async: QtAsync, qtbot: QtBot, cchub_home: Path) -> Iterator[GuiHub]:
    """Main window + real orchestrator + real CommandCenterStack on the fake engine (import
    `fake_dagger_env` into the test module too). Teardown stops every stack before the engine fixture
    checks that every session ended."""
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    settings = AppSettings.load(paths.settings_file)
    orchestrator = Orchestrator(store, settings, paths)
    orchestrator.reconcile_on_launch()
    bridge = OrchestratorBridge(orchestrator)

    async def engine_check() -> DoctorReport:
        return await run_doctor(orchestrator.settings)

    window = MainWindow(store, bridge, engine_check=engine_check)
    window.show()
    window.activateWindow()
    hub = GuiHub(paths, store, settings, orchestrator, bridge, window, qt_async, qtbot)
    try:
        yield hub
    finally:
        window.engine_status.cancel()
        qt_async.run(orchestrator.aclose(), timeout=60)
        bridge.detach()
        window.close()
        window.deleteLater()
        store.close()
