"""The desktop app: QApplication on a qasync loop, the orchestrator on that loop, the main window, clean quit.

`main()` builds the QApplication, runs `run_app()` with `asyncio.Runner(loop_factory=...)` so asyncio and Qt
share one loop, and returns the exit code. `AppController` owns the store, orchestrator, bridge and window;
its `quit()` coroutine stops every stack before the loop ends (the Quit action, closing the window without a
tray, SIGTERM and SIGINT all end there).

Paint first: when the database is at this app's schema, the window is built from the rows read with the stdlib
(store/rows.py) and painted before the asyncio loop exists (ui/first_window.py, which `__main__` runs before
importing this module); the store, the orchestrator, the stack and the tray are imported on the loop right
after (`_import_core`, in a worker thread) and attached. They read the projects with the stdlib too
(ProjectStore.rows): SQLModel, SQLAlchemy and pydantic are imported only at the first write (adding, editing or
removing a project, a recorded state). Any other database (none yet, one to migrate, damaged, locked) takes the
path through ProjectStore and the recovery dialog before the window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from cchub_desktop import APP_NAME, __version__
from cchub_desktop.os_errors import describe_os_error
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings, load_settings
from cchub_desktop.store.rows import ProjectStatus, StoreError
from cchub_desktop.ui.box_width import fit_title
from cchub_desktop.ui.first_window import READY_LOG, Launch, begin, check_engine, prepare_launch
from cchub_desktop.ui.first_window import parse_args as parse_args  # where callers have always found it
from cchub_desktop.ui.gc_guard import GuiThreadGarbageCollector
from cchub_desktop.ui.main_window import MainWindow
from cchub_desktop.ui.startup_notices import show_settings_notices

if TYPE_CHECKING:  # imported after the first paint (_import_core), or on the path without it
    from cchub_desktop.orchestrator import Orchestrator
    from cchub_desktop.stack import DoctorReport
    from cchub_desktop.store import ProjectStore
    from cchub_desktop.ui.bridge import OrchestratorBridge

logger = logging.getLogger("cchub_desktop")
WORKER_THREADS = 10   # asyncio.to_thread's pool at most (what qasync's executor has)
GC_SETTLE_DELAY = 2.0  # seconds after the window is shown
QUIT_RUNNER_WAIT = 20.0   # seconds Quit waits for the runners it asked to stop, showing it
SIGNAL_RUNNER_WAIT = 2.0   # on SIGTERM/SIGINT: the window is gone within 3 s


class AppController:
    """Owns everything with a lifetime: store, orchestrator, bridge, main window. Add-ons (tray, single
    instance) attach here and hook `quit()` through `before_quit` callbacks."""

    def __init__(self, app: QApplication, paths: AppPaths, store: ProjectStore, settings: AppSettings,
                 *, reconcile: bool = True, window: MainWindow | None = None, runners: bool = True) -> None:
        """`window`: one already shown from the stdlib read (paint_first); it is attached here. `runners`:
        each stack runs in a runner process of its own (the app); False runs them in this process (tests of
        the window against in-process stacks)."""
        from cchub_desktop.orchestrator import Orchestrator
        from cchub_desktop.ui.bridge import OrchestratorBridge
        from cchub_desktop.ui.store_follow import StoreFollower

        self.app = app
        self.paths = paths
        self.store = store
        self.settings = settings
        self.orchestrator: Orchestrator = Orchestrator(store, settings, paths, runners=runners)
        if reconcile:
            self.orchestrator.reconcile_on_launch()
        self.bridge: OrchestratorBridge = OrchestratorBridge(self.orchestrator)
        if window is None:
            window = MainWindow(store, self.bridge, engine_check=self.check_engine)
        else:
            window.attach_orchestrator(store, self.bridge)
        self.window = window
        self.window.intercept_close = True
        self.window.close_requested.connect(self.close_window)
        # the window follows what `cchub` processes change (not for the self-test beside a live app)
        self.follower = StoreFollower(self.window, self.orchestrator) if reconcile else None
        self.has_tray = False  # set by the tray: then closing the window hides it instead of quitting
        self.hide_to_tray: Callable[[], bool] | None = None  # set by the tray; False when no tray shows now
        self.before_quit: list[object] = []
        self.exit_code = 0
        self._quitting: asyncio.Task[None] | None = None
        self._done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._confirm_box: QMessageBox | None = None

    async def check_engine(self) -> DoctorReport:
        return await check_engine()

    def show_window(self) -> None:
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()

    def start_projects(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                project = self.store.row_named(name)
            except (KeyError, StoreError) as exc:
                self.window.show_error("Project not started", f"{exc.args[0] if exc.args else exc}")
                continue
            assert project.id is not None
            self.bridge.start(project.id)

    def handle_lifecycle(self, start: Sequence[str], stop: Sequence[str]) -> None:
        """`cchub start/stop NAME` while the app runs: the app owns the stack, so it shows and streams here.
        Names that match no project are said in the status bar (the CLI said them already)."""
        self.start_projects(start)
        for name in stop:
            try:
                project = self.store.row_named(name)
            except (KeyError, StoreError):
                self.window.statusBar().showMessage(f"cchub stop: no project named '{name}'", 10000)
                continue
            assert project.id is not None
            self.bridge.stop(project.id)

    # ----- quitting ------------------------------------------------------------------------------------

    def running_count(self) -> int:
        """The stacks Quit asks about: this app's starting or running ones (a `cchub up` in a terminal is its
        user's; one already stopping finishes stopping whatever the answer)."""
        return sum(1 for pid in self.orchestrator.own_active_projects()
                   if self.orchestrator.state(pid) in (ProjectStatus.STARTING, ProjectStatus.RUNNING))

    def close_window(self) -> None:
        """The window's close button: hide to the tray when one shows, else quit (asking as Quit does)."""
        if self.hide_to_tray is not None and self.hide_to_tray():
            return
        self.request_quit(confirm=True)

    def request_quit(self, confirm: bool = True) -> None:
        """Quit (the Quit action, closing the window without a tray): asks first when stacks run."""
        if self._quitting is not None:
            return
        count = self.running_count()
        runners = self.orchestrator.runners
        if not confirm or count == 0 or (runners and self.settings.on_quit in ("stop", "leave")):
            self.begin_quit()
            return
        if self._confirm_box is not None:
            self._confirm_box.raise_()
            return
        plural = "project" if count == 1 else "projects"
        text = (f"{count} {plural} running. Stop {'it' if count == 1 else 'them'}, or leave "
                f"{'it' if count == 1 else 'them'} running? The next {APP_NAME} window shows what runs; your "
                "answer is kept (Settings → Desktop)." if runners else f"Stop {count} running {plural} and quit?")
        box = QMessageBox(QMessageBox.Icon.Question, f"Quit {APP_NAME}", text,
                          QMessageBox.StandardButton.Cancel, self.window)
        box.setObjectName("quit_confirm")
        quit_button = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
        leave_button = (box.addButton("Leave running and quit", QMessageBox.ButtonRole.AcceptRole)
                        if runners else None)
        box.setDefaultButton(quit_button)
        box.finished.connect(lambda _r: self._confirm_finished(
            "stop" if box.clickedButton() is quit_button
            else "leave" if leave_button is not None and box.clickedButton() is leave_button else None))
        self._confirm_box = box
        box.open()

    def _confirm_finished(self, choice: str | None) -> None:
        self._confirm_box = None
        if choice is None:
            return
        if self.orchestrator.runners:
            self.settings.on_quit = choice   # asked once: kept, and changed in Settings → Desktop
            try:
                self.settings.save(self.paths.settings_file)
            except OSError as exc:
                logger.warning("could not keep the quit choice: %s", exc)
        self.begin_quit()

    def begin_quit(self, exit_code: int = 0, *, runner_wait: float = QUIT_RUNNER_WAIT) -> asyncio.Task[None]:
        """Start quitting without asking (signals, the self-test); returns the quit task. `runner_wait`: how
        long to wait for runners asked to stop (each ends its stack on its own after that)."""
        if self._quitting is None:
            self.exit_code = exit_code
            self._quitting = asyncio.get_running_loop().create_task(self.quit(runner_wait))
        return self._quitting

    async def quit(self, runner_wait: float = QUIT_RUNNER_WAIT) -> None:
        """Stop this app's stacks (or leave their runners running: Settings → Desktop), close the window,
        then let `run_app` return the exit code."""
        leave = self.orchestrator.runners and self.settings.on_quit == "leave"
        self.window.setEnabled(False)
        self.window.statusBar().showMessage("Quitting…" if leave else "Stopping every project…")
        for hook in list(self.before_quit):
            with contextlib.suppress(Exception):
                result = hook() if callable(hook) else None
                if asyncio.iscoroutine(result):
                    await result
        if self.follower is not None:
            self.follower.stop()
        try:
            await self.orchestrator.aclose(stop_runners=not leave, runner_wait=runner_wait)
        except Exception:
            logger.exception("stopping the stacks failed")
        self.window.engine_status.cancel()
        self.window.intercept_close = False
        self.window.close()
        self.bridge.detach()
        if not self._done.done():
            self._done.set_result(self.exit_code)

    async def wait_done(self) -> int:
        return await self._done

    # ----- signals -------------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT quit like the Quit action. asyncio's handlers wake Qt's loop through the loop's
        self-pipe (a socket notifier), so they run while Qt spins."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows: plain handler + a wake-up timer
                signal.signal(sig, lambda s, _f: loop.call_soon_threadsafe(self.on_signal, signal.Signals(s)))
                self._wakeup = QTimer()
                self._wakeup.start(250)
                self._wakeup.timeout.connect(lambda: None)

    def on_signal(self, sig: signal.Signals) -> None:
        logger.info("%s received: stopping every project and quitting", sig.name)
        self.begin_quit(0, runner_wait=SIGNAL_RUNNER_WAIT)   # a session ending waits for no one

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


class DamagedInstall(Exception):
    """A part of the app or of a library it needs cannot be imported: the install is damaged or incomplete."""

    def __init__(self, exc: ImportError) -> None:
        missing = f"module {exc.name} is missing" if isinstance(exc, ModuleNotFoundError) and exc.name else str(exc)
        super().__init__(f"Part of {APP_NAME} cannot be loaded ({missing}): its installation is damaged or "
                         f"incomplete. Reinstall {APP_NAME}; your projects and their data are kept.")


def _import_core() -> None:
    """What the attached app needs beyond the first paint; run in a worker thread so the painted window keeps
    answering (repaints, resizes, a queued Start) while the orchestrator and the stack load."""
    import cchub_desktop.orchestrator
    import cchub_desktop.store.project_store
    import cchub_desktop.ui.bridge
    import cchub_desktop.ui.db_recovery
    import cchub_desktop.ui.store_follow
    import cchub_desktop.ui.tray_integration  # noqa: F401


async def _show_fatal(title: str, message: str) -> None:
    """A blocking-free message box for errors that stop the app before its window exists."""
    logger.error("%s: %s", title, message)
    box = fit_title(QMessageBox(QMessageBox.Icon.Critical, title, message))
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not done.done():
            done.set_result(None)

    box.finished.connect(finished)
    box.open()
    await done


async def run_app(app: QApplication, args: argparse.Namespace, launch: Launch | None = None) -> int:
    paths = app_paths()
    if launch is None:
        launch = prepare_launch(args, wait=False)
    instance = launch.instance
    if instance is not None and not launch.acquired:  # already running: raise its window, exit 0
        if instance.hand_over(args.start):
            logger.info("%s is already running: its window was raised", APP_NAME)
            return 0
        await _show_fatal(f"{APP_NAME} is already running",
                          f"{APP_NAME} is already running for this user but does not answer. Quit it from its "
                          "tray icon (or end its process), then start it again.")
        return 1
    early = launch.early
    try:
        paths.ensure()
        if early is not None:
            early.install_signal_handlers()
            await early.until_painted()
        try:
            if early is not None:   # painted: load in a worker thread, the window answering meanwhile
                await asyncio.to_thread(_import_core)
            else:   # nothing shown yet: at once, with no turn of the loop before the signal handlers are set
                _import_core()
        except ImportError as exc:   # a damaged install (a file or a dependency missing): said, not a traceback
            logger.debug("importing the app's core failed", exc_info=True)
            raise DamagedInstall(exc) from exc
        from cchub_desktop.store import ProjectStore
        from cchub_desktop.ui.db_recovery import open_store_with_recovery

        # a damaged, locked or read-only database: ask what to do (restore, start fresh, retry, quit)
        store = ProjectStore(paths.db_file) if args.self_test else await open_store_with_recovery(paths)
    except (StoreError, OSError, DamagedInstall) as exc:
        if early is not None:
            early.close()
        if instance is not None:
            instance.release()
        said = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)   # what, where, what to do
        if args.self_test:
            print(f"self-test failed: {said}", file=sys.stderr)
            return 1
        await _show_fatal(f"{APP_NAME} cannot start", said)
        return 1
    if store is None:  # the user chose Quit in the database dialog
        if early is not None:
            early.close()
        if instance is not None:
            instance.release()
        return 1
    from cchub_desktop.ui.tray_integration import DesktopIntegration

    # a damaged file is moved aside and said below (read before the window when it painted first)
    loaded = launch.loaded if launch.loaded is not None else load_settings(paths.settings_file)
    settings = loaded.settings
    # the self-test may run beside a live app on the same database: it must not reset that app's states
    controller = AppController(app, paths, store, settings, reconcile=not args.self_test,
                               window=early.window if early is not None else None)
    desktop = DesktopIntegration(controller, instance)
    if instance is not None:
        instance.lifecycle_requested.connect(controller.handle_lifecycle)
    collector = GuiThreadGarbageCollector()
    try:
        controller.install_signal_handlers()
        if args.self_test:
            return await self_test(controller)
        if early is None:
            desktop.show_at_launch()
        else:
            early.hand_to(controller)
        show_settings_notices(controller.window, loaded.notices)
        logger.info("%s (%d projects)", READY_LOG, len(store.rows()))
        if not args.no_engine_check:
            controller.window.engine_status.recheck()
        controller.start_projects(args.start)
        asyncio.get_running_loop().call_later(GC_SETTLE_DELAY, settle_garbage_collector, collector)
        return await controller.wait_done()
    finally:
        collector.stop()
        controller.remove_signal_handlers()
        desktop.close()
        store.close()


def settle_garbage_collector(collector: GuiThreadGarbageCollector) -> None:
    """Once the app is up: keep what start-up built out of the collector's scans (gc.freeze), then collect on
    the GUI thread only (ui/gc_guard.py: a collection in a worker thread can free a Qt object there and crash
    the GUI thread's timers), with a 10,000-object young generation so the Dagger SDK's many short-lived
    objects die young instead of reaching the old generation, whose full collections stopped every thread,
    the UI's too, for 100-250 ms while stacks started (benchmarks/README.md, event loop). __main__ turns the
    collector off during start-up."""
    gc.freeze()
    collector.start()


async def self_test(controller: AppController) -> int:
    """Build what a user's launch builds, let Qt lay it out, report, quit cleanly."""
    controller.show_window()
    for _ in range(3):
        controller.app.processEvents()
        await asyncio.sleep(0)
    rows = controller.window.model.rowCount()
    await controller.begin_quit(0)
    print(f"self-test ok: {APP_NAME} {__version__}, {rows} projects, database {controller.paths.db_file}")
    return await controller.wait_done()


def main(argv: Sequence[str] | None = None) -> int:
    app, args, launch = begin(sys.argv[1:] if argv is None else argv)
    return run(app, args, launch)


def _qt_loop(loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The qasync loop with the stdlib's thread pool for `asyncio.to_thread`: qasync's own executor starts all
    ten of its threads at the first call, each with its stack and malloc arena; this pool starts a thread
    when there is work for one and none is idle (benchmarks/README.md, idle memory)."""
    from concurrent.futures import ThreadPoolExecutor

    loop.set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="cchub-worker"))
    return loop


def run(app: QApplication, args: argparse.Namespace, launch: Launch) -> int:
    """The rest of a launch, on the qasync loop (imported now: after the first paint)."""
    import qasync

    from cchub_desktop.ui.error_boundary import ErrorBoundary

    boundary = ErrorBoundary()   # an OSError escaping a slot or a task: one line in one box, no traceback
    try:
        with asyncio.Runner(loop_factory=lambda: _qt_loop(qasync.QEventLoop(app))) as runner:
            boundary.install(runner.get_loop())
            return runner.run(run_app(app, args, launch))
    finally:
        boundary.uninstall()
