"""The part of a launch that comes before the asyncio loop: the arguments, the QApplication, the single instance,
and the main window painted from the project rows read with the stdlib (store/rows.py).

Everything here imports only Qt, the stdlib and light modules of the app (no asyncio, qasync, SQLModel,
SQLAlchemy, pydantic, the orchestrator, the stack or the Dagger SDK): `__main__` runs `begin()` and only then
imports `app.py`, which attaches the store and the orchestrator right after the first paint.
tests/test_ui_paint_first.py fails if a heavy module is loaded when the window first paints.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from cchub_desktop import APP_NAME, ORG_NAME, __version__
from cchub_desktop.display_check import EXIT_NO_DISPLAY, missing_display
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings, LoadedSettings, load_settings
from cchub_desktop.store.rows import StoreError, read_projects
from cchub_desktop.ui.icons import install_app_identity
from cchub_desktop.ui.main_window import MainWindow
from cchub_desktop.ui.single_instance import SingleInstance

if TYPE_CHECKING:
    from cchub_desktop.app import AppController
    from cchub_desktop.stack import DoctorReport
    from cchub_desktop.store.rows import StoredProject

logger = logging.getLogger("cchub_desktop")
READY_LOG = "window shown"
FIRST_PAINT_WAIT = 1.0  # seconds: a window that is not painted by then (hidden, no compositor) is not waited for


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cchub-desktop", description=f"{APP_NAME} — desktop app")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="open the database, build the window, process events and exit 0 (for packaging)")
    parser.add_argument("--start", metavar="PROJECT", action="append", default=[],
                        help="start this project once the window is up (repeatable)")
    parser.add_argument("--no-engine-check", action="store_true",
                        help="skip the engine check at launch (it can be run from the window)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args, _qt_args = parser.parse_known_args(argv)
    return args




async def check_engine() -> DoctorReport:
    """The engine check: `cchub doctor` in a process of its own (engine_check.py), imported when it first runs,
    after the first paint."""
    from cchub_desktop.engine_check import check_engine as run_check

    return await run_check()


class _FirstPaint(QObject):
    """Calls `painted` on the first zero-timer after the widget's first paint event: its first paint pass is
    over."""

    def __init__(self, widget: QWidget, painted: Callable[[], None]) -> None:
        super().__init__(widget)
        self.painted = painted
        self.seen = False
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.seen:
            self.seen = True
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.painted)
        return False


def wait_painted(widget: QWidget, timeout: float = FIRST_PAINT_WAIT) -> None:
    """Before the asyncio loop exists: run Qt's events until the widget's first paint pass is over (or `timeout`
    seconds, for a window that is not painted: hidden, no compositor)."""
    loop = QEventLoop()
    watcher = _FirstPaint(widget, loop.quit)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    loop.exec()
    widget.removeEventFilter(watcher)
    watcher.deleteLater()


async def until_painted(widget: QWidget, timeout: float = FIRST_PAINT_WAIT) -> None:
    """The same on the asyncio loop."""
    import asyncio

    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = _FirstPaint(widget, lambda: None if done.done() else done.set_result(None))
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        logger.debug("the window was not painted within %.1f s; going on", timeout)
    finally:
        widget.removeEventFilter(watcher)
        watcher.deleteLater()


class EarlyWindow:
    """The window shown from the stdlib read before the store and the orchestrator exist, and what the user (or
    a signal) asked for in that moment: closing the window or SIGTERM/SIGINT quit once the controller is there."""

    def __init__(self, settings: AppSettings, rows: Sequence[StoredProject],
                 instance: SingleInstance | None = None) -> None:
        self.settings = settings
        self.instance = instance
        # another launch (or `cchub start/stop`) asked meanwhile: answered once the controller is there
        self.activations: list[list[str]] = []
        self.lifecycle: list[tuple[list[str], list[str]]] = []
        if instance is not None:
            instance.activation_requested.connect(self._activation_requested)
            instance.lifecycle_requested.connect(self._lifecycle_requested)
        self.window = MainWindow(None, None, engine_check=check_engine, stored=rows,
                                 first_paint=True)
        self.window.intercept_close = True
        self.window.close_requested.connect(self._close_requested)
        self.quit_requested: signal.Signals | None = None
        self.controller: AppController | None = None   # once handed to
        self.close_requested = False
        self.painted = False
        for sig in (signal.SIGTERM, signal.SIGINT):  # until the loop's own handlers (install_signal_handlers)
            signal.signal(sig, lambda s, _f: self._on_signal(signal.Signals(s)))

    def _close_requested(self) -> None:
        self.close_requested = True

    def _activation_requested(self, start: list[str]) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        self.activations.append(list(start))

    def _lifecycle_requested(self, start: list[str], stop: list[str]) -> None:
        self.lifecycle.append((list(start), list(stop)))

    def install_signal_handlers(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)

    async def until_painted(self) -> None:
        if not self.painted:
            await until_painted(self.window)
            self.painted = True
            self.window.complete()
            await until_painted(self.window.bottom_tabs)

    def complete(self) -> None:
        """Right after the first paint: the rest of the window, painted before the loop's imports begin."""
        self.painted = True
        self.window.complete()
        wait_painted(self.window.bottom_tabs)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.controller is not None:   # a signal caught here but handled after the hand-over: it is the app's
            self.controller.on_signal(sig)
            return
        logger.info("%s received while loading: quitting once loaded", sig.name)
        self.quit_requested = sig

    def hand_to(self, controller: AppController) -> None:
        """The controller took over: replay what was asked meanwhile."""
        self.controller = controller
        self.window.close_requested.disconnect(self._close_requested)
        if self.instance is not None:
            self.instance.activation_requested.disconnect(self._activation_requested)
            self.instance.lifecycle_requested.disconnect(self._lifecycle_requested)
        if self.quit_requested is not None:
            controller.begin_quit(0)
            return
        for start in self.activations:  # `--start` of a launch that handed over while this one loaded
            controller.start_projects(start)
        for start, stop in self.lifecycle:
            controller.handle_lifecycle(start, stop)
        if self.close_requested:
            controller.close_window()

    def close(self) -> None:
        self.window.intercept_close = False
        self.window.close()
        self.window.deleteLater()


def paint_first(paths: AppPaths, settings: AppSettings,
                instance: SingleInstance | None = None) -> EarlyWindow | None:
    """Show the window from the rows read with the stdlib (store/rows.py), or None when the launch must go
    through ProjectStore first: no database yet, one to migrate or from a newer app, a damaged or locked one
    (the recovery dialog is offered there), or the window is to start hidden."""
    if settings.start_minimized:
        return None
    try:
        rows = read_projects(paths.db_file)
    except StoreError as exc:
        logger.info("the database needs a look before the window: %s", exc)
        return None
    if rows is None:
        return None
    early = EarlyWindow(settings, rows, instance)
    early.window.show()
    early.window.raise_()
    early.window.activateWindow()
    return early


@dataclass
class Launch:
    """What a launch does before the asyncio loop runs (`prepare_launch`): claim the single instance and, when
    the database allows it, paint the window from the stdlib read."""

    instance: SingleInstance | None
    acquired: bool
    early: EarlyWindow | None = None
    loaded: LoadedSettings | None = None  # read here when the window painted first (run_app otherwise)


def prepare_launch(args: argparse.Namespace, *, wait: bool) -> Launch:
    """`wait`: run Qt's events until the window has painted (before the asyncio loop; main() does, so that
    qasync and the rest load after the first paint). Any trouble here is left to run_app to report."""
    paths = app_paths()
    instance = None if args.self_test else SingleInstance(paths)
    launch = Launch(instance, instance is None or instance.acquire())
    if args.self_test or not launch.acquired:
        return launch
    try:
        paths.ensure()
        launch.loaded = load_settings(paths.settings_file)
        launch.early = paint_first(paths, launch.loaded.settings, instance)
    except OSError:
        return launch
    if launch.early is not None and wait:
        wait_painted(launch.early.window)
        launch.early.complete()
    return launch


def begin(argv: Sequence[str]) -> tuple[QApplication, argparse.Namespace, Launch]:
    """Arguments, logging, the QApplication, then `prepare_launch` with the window painted (app.run goes on)."""
    args = parse_args(argv)
    if (no_display := missing_display(os.environ)) is not None:  # before Qt aborts with a misleading xcb message
        print(no_display, file=sys.stderr)
        raise SystemExit(EXIT_NO_DISPLAY)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))  # a line per query
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    install_app_identity(app)
    if not app.organizationName():
        app.setOrganizationName(ORG_NAME)
    app.setQuitOnLastWindowClosed(False)  # quitting always goes through AppController.quit()
    return app, args, prepare_launch(args, wait=True)
