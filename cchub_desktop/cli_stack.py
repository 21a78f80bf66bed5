"""`cchub plan`, `cchub doctor` and `cchub up`: the stack from the command line.

Registered into the main parser by cli.py (`register(subparsers)`). Errors leave as CliError/StackError
messages on stderr with exit code 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cchub_desktop.log_names import named_log_file
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.settings import AppSettings, load_for_cli
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.db_image import pin_db_image
from cchub_desktop.stack.errors import StackError
from cchub_desktop.stack.logs import HUB, LogLine, StackLog
from cchub_desktop.stack.phases import StackPhase
from cchub_desktop.stack.plan import build_plan, format_plan
from cchub_desktop.stack.project_secrets import checked_secrets

if TYPE_CHECKING:
    from cchub_desktop.lease import Lease
    from cchub_desktop.stack.backup import DatabaseJob
    from cchub_desktop.stack.stack import CommandCenterStack
    from cchub_desktop.store import Project, ProjectStore

CONNECT_GRACE = 15.0   # seconds a stop waits for a connecting CLI session before ending it
# seconds a runner's stop may take (a host copy of a large database included) before it ends itself and
# everything it started: a client that asked it to stop may be gone (a window that quit)
RUNNER_STOP_BOUND = 300.0

PHASE_TEXT = {
    StackPhase.ENGINE: "connecting to the Dagger engine",
    StackPhase.SOURCE: "fetching the CommandCenter source",
    StackPhase.BACKEND_BUILD: "building the backend",
    StackPhase.FRONTEND_BUILD: "building the frontend",
    StackPhase.POSTGRES: "starting PostgreSQL",
    StackPhase.REDIS: "starting Redis",
    StackPhase.NATS: "starting NATS",
    StackPhase.BACKEND: "starting the backend",
    StackPhase.WORKER: "starting the Celery worker",
    StackPhase.BEAT: "starting Celery beat",
    StackPhase.FRONTEND: "starting the frontend",
    StackPhase.TUNNELS: "opening the host ports",
    StackPhase.HEALTHY: "healthy",
}


def register(sub: Any) -> None:
    """Add plan / doctor / up to the `cchub` subparsers."""
    p = sub.add_parser("plan", help="show the container graph of a project's stack (like compose config)")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("doctor", help="check the Dagger CLI and the container engine")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("check-source", help="check that the CommandCenter source (Settings → Source) has the "
                                             "shape the stack needs")
    p.add_argument("project", nargs="?", help="check against this project's database image")
    p.set_defaults(handler=cmd_check_source)

    p = sub.add_parser("up", help="run a project's stack in the foreground until Ctrl-C")
    p.add_argument("project")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the engine's log lines")
    # the window's Start: the same run in a process of its own, detached (runner_control.py)
    p.add_argument("--runner", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_up)

    p = sub.add_parser("update", help="move a project to the newest commit of Settings → Source's ref")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (progress on stderr)")
    p.set_defaults(handler=cmd_update)

    p = sub.add_parser("backup", help="dump a stopped project's database (pg_dump) into the backups folder")
    p.add_argument("project")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (progress on stderr)")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser("restore", help="replace a stopped project's database with a backup (the current one is "
                                       "saved first)")
    p.add_argument("project")
    p.add_argument("file", help="a .sql file written by 'cchub backup'")
    p.set_defaults(handler=cmd_restore)

    p = sub.add_parser("upgrade-db", help="move a stopped project's database to a newer PostgreSQL major version "
                                          "(dump, restore into a new volume, check; the old volume is kept)")
    p.add_argument("project")
    p.add_argument("--image", help="the new PostgreSQL image (default: the one in Settings)")
    p.add_argument("--delete-old", action="store_true",
                   help="instead, delete the old database volumes that earlier upgrades kept")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (progress on stderr)")
    p.set_defaults(handler=cmd_upgrade_db)


    p = sub.add_parser("reset-db", help="delete a stopped project's database and passwords; its next start "
                                        "makes new ones (asks first)")
    p.add_argument("project")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=cmd_reset_db)


def _paths_and_settings() -> tuple[AppPaths, AppSettings]:
    paths = app_paths()
    paths.ensure()
    return paths, load_for_cli(paths.settings_file)


def cmd_plan(args: argparse.Namespace) -> int:
    from cchub_desktop.cli_project import find_project, open_store

    _, settings = _paths_and_settings()
    project = find_project(open_store(), args.project)
    plan = build_plan(CommandCenterConfig.for_plan(project, settings))
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_plan(plan))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from cchub_desktop.stack.doctor import run_doctor_sync

    paths, settings = _paths_and_settings()
    report = run_doctor_sync(settings)
    report.notes.extend(_host_copy_notes(paths, settings))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0 if report.ready else 1
    for check in report.checks:
        print(f"{'ok ' if check.ok else 'warn' if check.warning else 'FAIL'} {check.name}: {check.message}")
        if not check.ok and check.fix:
            print(f"     fix: {check.fix}")
    for note in report.notes:
        print(f"     note: {note}")
    print("Ready to start stacks." if report.ready else "Not ready: fix the problems above, then run "
                                                         "'cchub doctor' again.")
    return 0 if report.ready else 1


def _host_copy_notes(paths: AppPaths, settings: AppSettings) -> list[str]:
    """The host copies' part of the doctor (host_copies.py): how the data is protected, which project has none."""
    from cchub_desktop.cli_project import read_rows
    from cchub_desktop.host_copies import doctor_notes

    try:
        projects = [(p.name, p.data_key) for p in read_rows()]
    except Exception as exc:   # the doctor reports; a damaged project list is said by other commands
        return [f"the project list could not be read to check the host copies: {exc}"]
    from cchub_desktop.engine_gc import disk_pressure_note

    pressure = disk_pressure_note() if not settings.runner_host.strip() or _local_socket(settings) else None
    return doctor_notes(paths.data_dir, projects, settings.host_copy_interval_min) + ([pressure] if pressure else [])


def _local_socket(settings: AppSettings) -> bool:
    """The runner named in Settings is a socket on this machine (an engine run here, as root)."""
    return settings.runner_host.strip().startswith("unix://")


def cmd_check_source(args: argparse.Namespace) -> int:
    from cchub_desktop.stack.doctor import source_doctor_checks

    _, settings = _paths_and_settings()
    db_image = settings.postgres_image
    if args.project:
        from cchub_desktop.cli_project import find_project, open_store

        project = find_project(open_store(), args.project)
        db_image = project.db_image or db_image
    checks, note = source_doctor_checks(settings, db_image)
    for check in checks:
        print(f"{'ok ' if check.ok else 'FAIL'} {check.message}")
        if not check.ok:
            print(f"     fix: {check.fix}")
    if note:
        print(note)
    return 0 if all(c.ok for c in checks) else 1


def cmd_up(args: argparse.Namespace) -> int:
    from cchub_desktop.cli_project import CliError, find_project, open_store
    from cchub_desktop.health_monitor import HEALTHY
    from cchub_desktop.lease import RUNNER, UP, Lease, LeaseHeld
    from cchub_desktop.store import ProjectStatus

    runner = bool(getattr(args, "runner", False))   # `cchub start` and `cchub restart` run this too, without it
    paths, settings = _paths_and_settings()
    store = open_store()
    project = find_project(store, args.project)
    assert project.id is not None
    # `cchub stop` may send SIGTERM as soon as the lease names this process: from then on a SIGTERM is a
    # request to stop (before the loop runs: end here; in the loop: _on_signals), never a kill mid-way
    previous = signal.signal(signal.SIGTERM, _stop_before_loop)
    try:   # one owner per project (lease.py): held until this process ends, even on kill -9
        lease = Lease.acquire(paths.runtime_dir, project.data_key, project.name, RUNNER if runner else UP,
                              state="starting")
    except LeaseHeld as exc:
        signal.signal(signal.SIGTERM, previous)
        raise CliError(str(exc)) from None
    project_id, name = project.id, project.name
    log = StackLog(named_log_file(paths, project))   # the file the window's log pane reads
    error: StackError | None = None
    try:
        secrets = checked_secrets(store, project, paths)   # made once, then exactly those
        config = CommandCenterConfig.from_project(pin_db_image(store, project, settings.postgres_image),
                                                  settings, paths, secrets)
        if config.db_image is not None and config.db_image.note:
            print(config.db_image.note.removeprefix("[hub] "), flush=True)
            log.note(config.db_image.note)
        store.set_status(project_id, ProjectStatus.STARTING)
        source = config.source

        def running() -> None:
            lease.set_state(ProjectStatus.RUNNING.value, health=HEALTHY)
            _record(store, project_id, ProjectStatus.RUNNING)

        def health(verdict: str) -> None:   # clients read it in the lease (the window's Health column)
            lease.set_state(ProjectStatus.RUNNING.value, health=verdict)
            log.note(f"[hub] health: {verdict}")

        def record_pin(commit: str) -> None:
            store.record_source_pin(project_id, source.git_url, source.git_ref, commit, None)

        code, error = asyncio.run(_up(config, settings, log, verbose=args.verbose, on_running=running,
                                      on_stopping=lambda: lease.set_state(ProjectStatus.STOPPING.value),
                                      on_source_pin=record_pin,
                                      on_phase=lambda value: lease.set_state(ProjectStatus.STARTING.value,
                                                                             phase=value),
                                      on_health=health, stop_bound=RUNNER_STOP_BOUND if runner else None,
                                      requests=_RequestDesk(paths, project.data_key, project.slug)))
    except StackError as exc:
        code, error = 1, exc
    except (KeyError, _StopRequested):
        code, error = 0, None
    except Exception as exc:  # a bug: still one line for the user, the traceback goes to the log
        log.note(f"[hub] cchub up failed:\n{traceback.format_exc()}")
        code, error = 1, StackError(f"cchub up failed unexpectedly: {exc}", detail=repr(exc))
    finally:
        if error is not None and not error.logged:   # every failure in the log, as the window writes it
            log.note(f"[hub] error: {error.user_message}" + (f"\n[hub] detail: {error.detail}" if error.detail else ""))
        log.close()
    try:
        if error is not None:
            _record(store, project_id, ProjectStatus.ERROR, error.user_message)
            print(f"cchub: {error.user_message}", file=sys.stderr)
            if log.log_file is not None and (error.logged or error.detail):   # only when it has more to say
                print(f"cchub: details in {log.log_file}", file=sys.stderr)
        else:
            _record(store, project_id, ProjectStatus.STOPPED)
    except KeyError:   # removed meanwhile (by an older version, or by hand): nothing left to record
        print(f"'{name}' was removed while it ran; its stack is stopped.")
    finally:
        # a `cchub stop` that read the lease a moment ago may still send its SIGTERM: this process is ending
        # anyway, so from here to its exit that SIGTERM is already done, never a kill (exit -15) mid-way
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        lease.release()
    if runner:   # nobody waits on this process: end it now, whatever SDK thread still blocks
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class _StopRequested(Exception):
    """SIGTERM before the stack's loop ran: nothing started yet, so stopping is ending here."""


def _stop_before_loop(_signum: int, _frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # once: the clean-up that follows must not be cut short
    raise _StopRequested()


def _record(store: Any, project_id: int, status: Any, last_error: str | None = None) -> None:
    """Record a state; KeyError when the project was removed meanwhile."""
    store.set_status(project_id, status, last_error=last_error)


async def _up(config: CommandCenterConfig, settings: AppSettings, log: StackLog, verbose: bool,
              on_running: Callable[[], object] | None = None,
              on_stopping: Callable[[], object] | None = None,
              on_source_pin: Callable[[str], object] | None = None,
              on_phase: Callable[[str], object] | None = None,
              on_health: Callable[[str], None] | None = None,
              stop_bound: float | None = None,
              requests: _RequestDesk | None = None) -> tuple[int, StackError | None]:
    from cchub_desktop.health_monitor import watch_health
    from cchub_desktop.stack.stack import CommandCenterStack

    def say(text: str) -> None:
        print(text, flush=True)

    def echo(line: LogLine) -> None:
        if line.service != HUB:
            print(f"{line.service:>8} | {line.text}", flush=True)

    if verbose:
        log.subscribe(echo)
    stop_requested = asyncio.Event()
    restore = _on_signals(stop_requested.set)
    def phase_changed(phase: StackPhase | str) -> None:
        say(f"[{config.name}] {_phase_words(phase)}")
        if on_phase is not None:
            on_phase(phase.value if isinstance(phase, StackPhase) else str(phase))

    def stopping_now() -> None:
        if on_stopping is not None:
            on_stopping()
        if stop_bound is not None:
            _end_after(stop_bound, log)

    stack = CommandCenterStack(config, settings, log, on_phase=phase_changed)
    stack.on_source_pin = on_source_pin
    if config.source_note:
        say(config.source_note.removeprefix("[hub] "))
    try:
        log.note(f"[hub] starting {config.name}")   # the log pane draws a separator at each start
        start = asyncio.ensure_future(stack.start())
        stopping = asyncio.ensure_future(stop_requested.wait())
        await asyncio.wait({start, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():
            stopping_now()
            say(f"[{config.name}] stopping before it was ready…")
            start.cancel()
            with contextlib.suppress(asyncio.CancelledError, StackError):
                await start
            await stack.stop()
            await _end_unconnected_session(stack, log)
            return 0, None
        if (exc := start.exception()) is not None:
            stopping.cancel()
            if isinstance(exc, StackError):
                return 1, exc
            raise exc
        log.note(f"[hub] {config.name} is running at {stack.frontend_url}")
        if on_running is not None:
            on_running()
        say(f"Frontend: {stack.frontend_url}")
        say(f"Backend:  {stack.backend_url}")
        say("Press Ctrl-C to stop.")
        if requests is not None:
            requests.open(stack)
        closed = asyncio.ensure_future(stack.wait_closed())
        watching = (asyncio.ensure_future(watch_health(config.backend_port, config.frontend_port, on_health))
                    if on_health is not None else None)
        await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if watching is not None:
            watching.cancel()
        if not stopping.done():
            stopping.cancel()
            reason = stack.closed_reason
            return 1, StackError("The Dagger session of this project ended unexpectedly, so its services stopped. "
                                 "Check the engine (`cchub doctor`, or Check again in the window) and start the "
                                 "project again." + (f" ({reason})" if reason else ""), step="session")
        stopping_now()
        say(f"[{config.name}] stopping…")
        await stack.stop()
        log.note("[hub] stopped")
        say(f"[{config.name}] stopped.")
        return 0, None
    finally:
        if requests is not None:
            requests.close()
        restore()
        await stack.stop()   # idempotent; also when this task was cancelled (Ctrl-C where signals are not ours)
        if verbose:
            log.unsubscribe(echo)


async def _end_unconnected_session(stack: CommandCenterStack, log: StackLog) -> None:
    """A start stopped while the CLI session was connecting: a CLI whose runner never answers keeps
    connecting, ignoring SIGTERM and its stdin closing, and the SDK's thread waiting for it would keep this
    process from ending. After a grace, end it (this process runs this one stack, so its session children
    are this stack's)."""
    from cchub_desktop.stack.session_children import kill_session_children, session_children

    if stack.phase != StackPhase.ENGINE:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_GRACE
    while await asyncio.to_thread(session_children) and loop.time() < deadline:
        await asyncio.sleep(0.2)
    killed = await asyncio.to_thread(kill_session_children)
    if killed:
        log.note(f"[hub] the Dagger CLI session did not end after the stop; ended it (pid "
                 f"{', '.join(map(str, killed))})")


class _RequestDesk:
    """While the stack runs, the jobs other processes ask of it (runner_requests.py): a backup in its session,
    a restart of one of its services."""

    def __init__(self, paths: AppPaths, data_key: str, slug: str) -> None:
        self.paths, self.data_key, self.slug = paths, data_key, slug
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, stack: CommandCenterStack) -> None:
        from cchub_desktop import runner_requests

        if not runner_requests.SUPPORTED:
            return
        loop = asyncio.get_running_loop()
        sigusr1 = signal.SIGUSR1

        def arrived() -> None:
            task = loop.create_task(self._serve(stack))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sigusr1, arrived)

    async def _serve(self, stack: CommandCenterStack) -> None:
        from cchub_desktop import runner_requests
        from cchub_desktop.runner_requests import RESTART_JOB
        from cchub_desktop.stack.backup import new_backup_path

        request = runner_requests.read_request(self.paths.runtime_dir, self.data_key)
        if request is None:
            return
        job = str(request.get("job") or "")
        try:
            if job == "backup":
                path = await stack.backup_database(new_backup_path(self.paths.backups_dir, self.slug))
                reply = {"path": str(path)}
            elif job.startswith(RESTART_JOB):
                reply = {"done": await stack.restart_service(job.removeprefix(RESTART_JOB))}
            else:
                raise StackError(f"This runner does not do '{job}'.", step="request")
        except StackError as exc:
            reply = {"error": exc.user_message}
        except Exception as exc:   # a bug: the client still gets one line, the log the traceback
            stack.log.note(f"[hub] a request failed:\n{traceback.format_exc()}")
            reply = {"error": f"The runner could not do it: {exc}."}
        with contextlib.suppress(OSError):
            runner_requests.answer(self.paths.runtime_dir, self.data_key, request["id"], **reply)

    def close(self) -> None:
        from cchub_desktop import runner_requests

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
        for task in self._tasks:
            task.cancel()
        runner_requests.discard_request(self.paths.runtime_dir, self.data_key)


def _end_after(bound: float, log: StackLog) -> None:
    """A runner's last resort: if this process has not ended `bound` seconds after its stop began (an engine
    that never closes the session), end the Dagger CLI session it started and this process."""
    import threading

    from cchub_desktop.stack.session_children import kill_session_children

    def end() -> None:
        killed = kill_session_children()
        log.note(f"[hub] the stack had not stopped {bound:.0f} s after the stop; ended it"
                 + (f" (Dagger CLI session pid {', '.join(map(str, killed))})" if killed else ""))
        log.close()
        os._exit(1)

    timer = threading.Timer(bound, end)
    timer.daemon = True
    timer.start()


def _phase_words(phase: StackPhase | str) -> str:
    """'building the backend', or with build progress 'building the backend: pip: downloading torch · 1:12'."""
    name, _, detail = str(phase).partition("|")
    words = PHASE_TEXT.get(StackPhase(name), name) if name in set(StackPhase) else name
    return f"{words}: {detail}" if detail else words


def cmd_update(args: argparse.Namespace) -> int:
    """Move the project's pin to the newest commit of the ref; while it runs, the new commit applies at its
    next start (a running stack keeps the code it was built from)."""
    from cchub_desktop.cli_project import find_project, open_store
    from cchub_desktop.stack.pin_update import update_project
    from cchub_desktop.store import ProjectStatus

    _, settings = _paths_and_settings()
    store = open_store()
    project = find_project(store, args.project)
    running = project.status in (ProjectStatus.STARTING.value, ProjectStatus.RUNNING.value)
    try:
        result = asyncio.run(update_project(store, project, settings, running=running))
    except StackError as exc:
        emit_error(args, exc)
        print(f"cchub: {exc.user_message}", file=sys.stderr)
        return 1
    report(args, result.message(), {"project": project.name, "message": result.message(),
                                    "changed": result.changed, "commit": result.new.commit,
                                    "applies_next_start": result.applies_next_start})
    return 0


def emit_result(result: dict[str, Any]) -> None:
    """`--json`: the command's result as one JSON object on stdout (what the window reads, engine_jobs.py)."""
    print(json.dumps(result), flush=True)


def report(args: argparse.Namespace, text: str, result: dict[str, Any]) -> None:
    """A command's outcome: `result` as JSON with `--json`, else `text` for a person."""
    if getattr(args, "json", False):
        emit_result(result)
    else:
        print(text)


def progress_stream(args: argparse.Namespace) -> Any:
    """Where a job's progress lines go: stdout, or stderr when stdout carries the `--json` result."""
    return sys.stderr if getattr(args, "json", False) else sys.stdout


def _on_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Ctrl-C and SIGTERM ask for a clean stop (where the loop supports signal handlers)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def restore() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if signal.SIGTERM in installed:   # stopping already: a second SIGTERM must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

    return restore


def copy_before(store: ProjectStore, project: Project, settings: AppSettings, paths: AppPaths, log: StackLog,
                job: str) -> str:
    """A host copy of a stopped project's data before a risky job: what it is, or "" (stack/host_copy.py)."""
    from cchub_desktop.stack.host_copy import copy_before_job

    return asyncio.run(copy_before_job(store, project, settings, paths, log, job))


def _database_job_setup(name: str, doing: str, out: Any = None) -> tuple[AppPaths, Project, DatabaseJob, Lease]:
    """The stopped project, a job for its database, and the project's lease held for the job; CliError
    while another process owns the project (a running stack's session holds the data)."""
    from cchub_desktop.cli_project import CliError, find_project, open_store
    from cchub_desktop.lease import Lease, LeaseHeld
    from cchub_desktop.stack.backup import DatabaseJob

    paths, settings = _paths_and_settings()
    store = open_store()
    project = find_project(store, name)
    try:
        lease = Lease.acquire(paths.runtime_dir, project.data_key, project.name, f"cchub {doing.replace(' ', '')}",
                              state="being backed up" if doing == "back up" else "being restored")
    except LeaseHeld as exc:
        where = ("use the app's Back up database action (window or tray menu), or stop it first"
                 if doing == "back up" and exc.owner.kind == "app" else "stop it first")
        raise CliError(f"{exc} Its database lives in that session: to {doing} its database, {where}.") from None
    try:
        config = CommandCenterConfig.from_project(project, settings, paths, checked_secrets(store, project, paths))
    except BaseException:
        lease.release()
        raise
    finally:
        store.close()
    log = StackLog(named_log_file(paths, project))   # the project's log: the window and `cchub logs` show it
    job = DatabaseJob(config, settings, log,
                      progress=lambda text: print(f"[{project.name}] {text}", file=out or sys.stdout, flush=True))
    return paths, project, job, lease


def _run_job(job: DatabaseJob, work: Callable[[], Any]) -> Any:
    try:
        return asyncio.run(work())
    except StackError as exc:
        exc.details_in = job.log.log_file
        raise
    finally:
        job.log.close()


def _as_cli_error(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A StackError leaves as one line on stderr with exit code 1 (cli.main reports CliError), naming the
    log file that has its details; with `--json` also as {"error", "logged"} on stdout."""
    def run(args: argparse.Namespace) -> int:
        from cchub_desktop.cli_project import CliError

        try:
            return handler(args)
        except StackError as exc:
            emit_error(args, exc)
            where = f" (details in {exc.details_in})" if exc.logged and exc.details_in is not None else ""
            raise CliError(exc.user_message + where) from exc
    return run


def emit_error(args: argparse.Namespace, exc: StackError) -> None:
    """`--json`: why the job failed, and whether the project's log has its details (the window shows them)."""
    if getattr(args, "json", False):
        emit_result({"error": exc.user_message, "logged": exc.logged and exc.details_in is not None})


@_as_cli_error
def cmd_backup(args: argparse.Namespace) -> int:
    from cchub_desktop.stack.backup import new_backup_path

    paths, project, job, lease = _database_job_setup(args.project, "back up", progress_stream(args))
    with lease:
        dest = new_backup_path(paths.backups_dir, project.slug)
        saved = _run_job(job, lambda: job.backup(dest))
    report(args, f"Backed up '{project.name}' to {saved}", {"project": project.name, "path": str(saved)})
    return 0


@_as_cli_error
def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cchub_desktop.stack.backup import check_restore_file, new_backup_path

    source = check_restore_file(Path(args.file))
    paths, project, job, lease = _database_job_setup(args.project, "restore")
    with lease:
        safety = new_backup_path(paths.backups_dir, project.slug, "before-restore")
        kept = _run_job(job, lambda: job.restore(source, safety))
    print(f"Restored '{project.name}' from {source}. The database as it was before is saved in {kept}")
    return 0


@_as_cli_error
def cmd_reset_db(args: argparse.Namespace) -> int:
    """The way out when a project's passwords are lost: its data goes, and the next start begins afresh."""
    from cchub_desktop.cli_project import confirm as _confirm
    from cchub_desktop.cli_project import find_project, hold, open_store
    from cchub_desktop.project_data import delete_project_data

    paths, settings = _paths_and_settings()
    store = open_store()
    project = find_project(store, args.project)
    assert project.id is not None
    with hold(paths, project, "cchub reset-db", "having its database reset"):
        _confirm(f"Delete the database (PostgreSQL and Redis data) and the passwords of '{project.name}'? Its "
                 "next start makes an empty database with new passwords. This cannot be undone. [y/N] ", args.yes)
        log = StackLog(named_log_file(paths, project))
        try:
            kept = copy_before(store, project, settings, paths, log, "reset-db")
            asyncio.run(delete_project_data(project, settings, paths, log, retire_copies="before-reset"))
            log.note("reset-db: the database (PostgreSQL and Redis data) and the passwords were deleted; the next "
                     "start makes new ones" + (f"; a copy from before the reset ({kept}) is kept under "
                                               "retired-before-reset-* in the host copies folder" if kept else ""))
        finally:
            log.close()
        store.forget_data(project.id)
    print(f"Reset '{project.name}': its database and passwords are deleted; the next start makes new ones. "
          + (f"A copy of the database from before the reset ({kept}) is kept in the host copies folder, under "
             "retired-before-reset-*." if kept else "Its earlier host copies (if any) are kept under "
             "retired-before-reset-* in the host copies folder."))
    return 0


@_as_cli_error
def cmd_upgrade_db(args: argparse.Namespace) -> int:
    from cchub_desktop.cli_project import CliError, find_project, open_store
    from cchub_desktop.lease import Lease, LeaseHeld

    paths, settings = _paths_and_settings()
    store = open_store()
    try:
        project = find_project(store, args.project)
        try:   # one owner per project (lease.py): no start anywhere while its database is being upgraded
            lease = Lease.acquire(paths.runtime_dir, project.data_key, project.name, "cchub upgrade-db",
                                  state="having its database upgraded")
        except LeaseHeld as exc:
            raise CliError(f"{exc} Stop it first, then upgrade its database (its data volume is in use while "
                           "it runs).") from None
        with lease:
            return _upgrade_db(args, store, project, paths, settings)
    finally:
        store.close()


def _upgrade_db(args: argparse.Namespace, store: ProjectStore, project: Project, paths: AppPaths,
                settings: AppSettings) -> int:
    """With the project's lease held: its recorded status is stale (no process runs it)."""
    from cchub_desktop.stack.db_upgrade import DatabaseUpgrade, NothingToUpgrade, delete_retired_volumes, plan_upgrade

    log = StackLog(named_log_file(paths, project))
    try:
        if args.delete_old:
            deleted = asyncio.run(delete_retired_volumes(store, project, settings, paths, log))
            report(args, f"Deleted the old database volume(s) {', '.join(deleted)} of '{project.name}'." if deleted
                   else f"'{project.name}' has no old database volume left by an upgrade.",
                   {"project": project.name, "deleted": deleted})
            return 0
        out = progress_stream(args)
        try:
            plan = plan_upgrade(project, "stopped", args.image or settings.postgres_image)
        except NothingToUpgrade as exc:
            report(args, exc.user_message, {"project": project.name, "upgraded": False, "summary": exc.user_message})
            return 0
        print(plan.describe(), file=out, flush=True)
        upgrade = DatabaseUpgrade(store, project, plan, settings, paths, log,
                                  progress=lambda text: print(f"[{project.name}] {text}", file=out, flush=True))
        result = asyncio.run(upgrade.run())
    except StackError as exc:
        exc.details_in = log.log_file
        raise
    finally:
        log.close()
    report(args, result.summary(), {"project": project.name, "upgraded": True, "new_major": result.plan.new_major,
                                    "summary": result.summary()})
    return 0
