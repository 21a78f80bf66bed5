"""`cchub start`, `cchub stop` and `cchub status`: one owner per project, whichever process it is.

The owner of a project is whoever holds its lease (lease.py): the app or a `cchub up`. `stop` asks that owner:
the app over its single-instance channel (instance_handover.py), a `cchub up` with SIGTERM (it stops its
stack cleanly, as on Ctrl-C). `start` hands the project to the app when the app runs, so the stack shows and
streams in its window; otherwise it runs in the foreground like `cchub up`. `status` shows what the leases
say, not what the database last recorded. No Qt, no SQLModel for `status`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from cchub_desktop.cli_project import CliError, find_row, open_store, read_rows
from cchub_desktop.lease import APP, RUNNER, STACK_STATES, Owner, busy_message, live_status, owner_of
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.store.rows import ProjectRow, ProjectStatus

STOP_TIMEOUT_S = 300.0
KILL_WAIT_S = 10.0   # after SIGKILL, the lease goes free as soon as the kernel has ended the process
START_TIMEOUT_S = 3600.0   # a first build downloads gigabytes (README)
POLL_S = 0.1


def _wait(until: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def app_is_running(paths: AppPaths) -> bool:
    from cchub_desktop.instance_handover import socket_path

    path = socket_path(paths)
    return path is not None and path.exists()


def cmd_stop(args: argparse.Namespace) -> int:
    paths = app_paths()
    row = find_row(args.project)
    owner = owner_of(paths.runtime_dir, row.data_key)
    if owner is None:
        if row.status in STACK_STATES:
            open_store().set_status(row.id, ProjectStatus.STOPPED)
            print(f"'{row.name}' was recorded as {row.status}, but no process runs it (the one that did has "
                  "ended): it is now marked stopped.")
        else:
            print(f"'{row.name}' is not running.")
        return 0
    if not owner.runs_stack:
        raise CliError(busy_message(row.name, owner))
    _ask_owner_to_stop(paths, row, owner)
    print(f"Stopping '{row.name}' in {owner.where()}…", flush=True)
    if not _wait(lambda: _stack_gone(paths, row, owner), args.timeout):
        if owner.kind != RUNNER or owner.pid is None:
            raise CliError(f"'{row.name}' did not stop within {args.timeout:.0f} s; it is still owned by "
                           f"{owner.where()}. Look there, or run 'cchub stop {row.name}' again.")
        # a runner is the app's: end it and everything it started (its engine session), and say so
        from cchub_desktop.runner_control import end

        end(owner.pid)
        if not _wait(lambda: _stack_gone(paths, row, owner), KILL_WAIT_S):
            raise CliError(f"'{row.name}' did not stop within {args.timeout:.0f} s, and its runner (pid "
                           f"{owner.pid}) could not be ended. End that process, then try again.")
        print(f"'{row.name}' did not stop within {args.timeout:.0f} s: its runner and its Dagger session were "
              f"ended (pid {owner.pid}).")
        _record_stopped(row)
        return 0
    now = owner_of(paths.runtime_dir, row.data_key)
    if now is not None and now.runs_stack:   # another process took it as soon as it was free
        print(f"Stopped '{row.name}' in {owner.where()}, but {now.where()} started it again meanwhile.")
        return 0
    print(f"Stopped '{row.name}'.")
    return 0


def _record_stopped(row: ProjectRow) -> bool:
    """A runner ended by force could not record its end: record it stopped (False: removed meanwhile)."""
    try:
        open_store().set_status(row.id, ProjectStatus.STOPPED)
    except KeyError:
        return False
    return True


def _stack_gone(paths: AppPaths, row: ProjectRow, stopped: Owner) -> bool:
    """The owner that was asked to stop no longer runs the stack (it ended, or another process owns it)."""
    owner = owner_of(paths.runtime_dir, row.data_key)
    if owner is None:
        return True
    if owner.pid is None:
        return False   # caught mid-write: ask again
    return owner.pid != stopped.pid or not owner.runs_stack


def _ask_owner_to_stop(paths: AppPaths, row: ProjectRow, owner: Owner) -> None:
    from cchub_desktop.instance_handover import encode_request, send_request

    if owner.kind == APP:
        if not send_request(paths, encode_request(stop=[row.name], show=False)):
            raise CliError(f"'{row.name}' runs in {owner.where()}, which did not answer. Stop it in its window.")
        return
    if owner.pid is None or owner.pid == os.getpid():
        raise CliError(f"'{row.name}' runs in {owner.where()}; stop it there.")
    try:
        os.kill(owner.pid, signal.SIGTERM)   # `cchub up` stops its stack cleanly on SIGTERM
    except ProcessLookupError:
        pass   # it just ended
    except PermissionError:
        raise CliError(f"'{row.name}' runs in {owner.where()}, a process of another user; stop it there.") \
            from None


def cmd_start(args: argparse.Namespace) -> int:
    """The app's window when it runs (the stack shows and streams there), else the foreground like `up`."""
    paths = app_paths()
    row = find_row(args.project)
    owner = owner_of(paths.runtime_dir, row.data_key)
    if owner is not None:
        if owner.runs_stack:
            print(f"'{row.name}' is already {owner.state or 'running'} in {owner.where()}.")
            return 0
        raise CliError(busy_message(row.name, owner))
    from cchub_desktop.instance_handover import encode_request, send_request

    if not (app_is_running(paths) and send_request(paths, encode_request(start=[row.name], show=False))):
        from cchub_desktop.cli_stack import cmd_up

        return cmd_up(args)
    print(f"The CommandCenter Hub app is starting '{row.name}'; it shows in its window.", flush=True)
    if args.no_wait:
        return 0
    return _follow_start(paths, row, args.timeout)


def _follow_start(paths: AppPaths, row: ProjectRow, timeout_s: float) -> int:
    # the app takes the lease as it begins; then wait for running, or for the lease to go (failed/stopped)
    if not _wait(lambda: owner_of(paths.runtime_dir, row.data_key) is not None, 15.0):
        return _ended(row)
    last: list[str | None] = [None]

    def running_or_gone() -> bool:
        owner = owner_of(paths.runtime_dir, row.data_key)
        if owner is None:
            return True
        if owner.state != last[0]:
            last[0] = owner.state
            if owner.state:
                print(f"[{row.name}] {owner.state}", flush=True)
        return owner.state == ProjectStatus.RUNNING.value

    if not _wait(running_or_gone, timeout_s):
        raise CliError(f"'{row.name}' was not running after {timeout_s:.0f} s; see the app's window.")
    if owner_of(paths.runtime_dir, row.data_key) is None:
        return _ended(row)
    print(f"'{row.name}' is running: frontend http://localhost:{row.frontend_port}")
    return 0


def _ended(row: ProjectRow) -> int:
    """The app no longer holds the project: say what it recorded."""
    fresh = find_row(row.name)
    if fresh.status == ProjectStatus.ERROR.value:
        raise CliError(f"'{row.name}' did not start: {fresh.last_error or 'see the app'}")
    raise CliError(f"'{row.name}' was stopped before it was running.")


def cmd_status(args: argparse.Namespace) -> int:
    paths = app_paths()
    rows = read_rows()
    if args.project:
        rows = [find_row(args.project)]
    owners = [(r, owner_of(paths.runtime_dir, r.data_key)) for r in rows]
    report = [{"name": r.name, "status": live_status(r.status, owner),
               "owner": None if owner is None else {"kind": owner.kind, "pid": owner.pid,
                                                    "since": owner.started_at, "doing": owner.state},
               "last_error": r.last_error if r.status == ProjectStatus.ERROR.value else None,
               "frontend": f"http://localhost:{r.frontend_port}"} for r, owner in owners]
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    if not report:
        print("No projects yet. Add one with: cchub add NAME /path/to/folder")
        return 0
    for (r, owner), item in zip(owners, report, strict=True):
        where = f"  in {owner.where()} since {owner.started_at}" if owner is not None else ""
        error = f"  — {r.last_error}" if item["last_error"] else ""
        shown = "failed" if item["status"] == "error" else item["status"]   # the window's and the tray's word
        print(f"{r.name}: {shown}{where}{error}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("start", help="start a project: in the app's window when it runs, else in the foreground")
    p.add_argument("project")
    p.add_argument("--no-wait", action="store_true", help="return once the app has taken the request")
    p.add_argument("--timeout", type=float, default=START_TIMEOUT_S, help="seconds to wait for running")
    p.add_argument("-v", "--verbose", action="store_true", help="foreground: also print the engine's log lines")
    p.set_defaults(handler=cmd_start)

    p = sub.add_parser("stop", help="stop a project wherever it runs (the app or a 'cchub up')")
    p.add_argument("project")
    p.add_argument("--timeout", type=float, default=STOP_TIMEOUT_S, help="seconds to wait for it to stop")
    p.set_defaults(handler=cmd_stop)

    p = sub.add_parser("status", help="what runs where: each project's state from its owner")
    p.add_argument("project", nargs="?")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_status)
