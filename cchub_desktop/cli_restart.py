"""`cchub restart NAME`: stop a project wherever it runs, then start it as `cchub start` does (in the app's
window when the app runs, else in the foreground). A project that is not running is started.

`cchub restart NAME --service S`: restart one service in the running stack's own session (the runner or the
`cchub up` that runs it does it: runner_requests.py), with the services the engine stops with it (those that bind
it); the others keep running."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cchub_desktop import runner_requests
from cchub_desktop.cli_lifecycle import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    _ask_owner_to_stop,
    _stack_gone,
    _wait,
    cmd_start,
)
from cchub_desktop.cli_project import CliError, find_row
from cchub_desktop.lease import RUNNER, UP, Owner, busy_message, owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.restart_lines import STACK_SERVICES
from cchub_desktop.store.rows import ProjectStatus

SERVICES = STACK_SERVICES
SERVICE_RESTART_TIMEOUT_S = 600.0   # a restart waits for the restarted services' health checks (180 s each at most)


def cmd_restart(args: argparse.Namespace) -> int:
    paths = app_paths()
    row = find_row(args.project)
    if args.service is not None and args.service not in SERVICES:
        raise CliError(f"no service named '{args.service}'; the stack's services are: {', '.join(SERVICES)}")
    owner = owner_of(paths.runtime_dir, row.data_key)
    if args.service is not None and owner is not None and owner.runs_stack:
        return _restart_service(paths.runtime_dir, row.name, row.data_key, owner, args.service)
    if owner is None:
        print(f"'{row.name}' was not running; starting it.", flush=True)
        return cmd_start(args)
    if not owner.runs_stack:
        raise CliError(busy_message(row.name, owner))
    if owner.is_me:
        raise CliError(f"'{row.name}' runs in this process; stop it there.")
    _ask_owner_to_stop(paths, row, owner)
    print(f"Stopping '{row.name}' in {owner.where()}…", flush=True)
    if not _wait(lambda: _stack_gone(paths, row, owner), args.stop_timeout):
        raise CliError(f"'{row.name}' did not stop within {args.stop_timeout:.0f} s; it is still owned by "
                       f"{owner.where()}. Nothing was started.")
    now = owner_of(paths.runtime_dir, row.data_key)
    if now is not None and now.runs_stack:
        print(f"'{row.name}' was started again meanwhile by {now.where()}; leaving it there.")
        return 0
    print(f"Stopped '{row.name}'; starting it again.", flush=True)
    return cmd_start(args)


def _restart_service(runtime_dir: Path, name: str, data_key: str, owner: Owner, service: str) -> int:
    """Ask the process that runs the stack to restart `service` in its session, and wait for its answer."""
    if owner.is_me:
        raise CliError(f"'{name}' runs in this process; restart its {service} there.")
    if owner.kind not in (UP, RUNNER) or owner.pid is None or not runner_requests.SUPPORTED:
        raise CliError(f"'{name}' runs in {owner.where()}, which cannot restart one service; restart the whole "
                       f"project with: cchub restart \"{name}\"")
    if owner.state != ProjectStatus.RUNNING.value:
        raise CliError(f"'{name}' is {owner.state or 'starting'}; restart its {service} once it runs.")
    try:
        request = runner_requests.send(runtime_dir, data_key, owner.pid, runner_requests.RESTART_JOB + service)
    except OSError as exc:
        raise CliError(f"{owner.where()} could not be asked to restart the {service} ({exc}); try again.") from None
    print(f"Restarting the {service} of '{name}' in {owner.where()}…", flush=True)
    if not _wait(lambda: runner_requests.read_reply(runtime_dir, data_key, request) is not None
                 or owner_of(runtime_dir, data_key) is None, SERVICE_RESTART_TIMEOUT_S):
        raise CliError(f"'{name}' did not finish restarting its {service} within "
                       f"{SERVICE_RESTART_TIMEOUT_S:.0f} s; its log may say why (cchub logs \"{name}\").")
    reply = runner_requests.read_reply(runtime_dir, data_key, request, take=True)
    if reply is None:
        raise CliError(f"'{name}' stopped before its {service} was restarted.")
    if "done" not in reply:
        raise CliError(str(reply.get("error") or "The restart failed; its log has the details."))
    print(f"'{name}': {reply['done']}.")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("restart", help="stop a project wherever it runs, then start it again (as 'cchub start')")
    p.add_argument("project")
    p.add_argument("--no-wait", action="store_true", help="return once the app has taken the start request")
    p.add_argument("--timeout", type=float, default=START_TIMEOUT_S, help="seconds to wait for running")
    p.add_argument("--stop-timeout", type=float, default=STOP_TIMEOUT_S, help="seconds to wait for it to stop")
    p.add_argument("-v", "--verbose", action="store_true", help="foreground: also print the engine's log lines")
    p.add_argument("--service", metavar="S",
                   help="restart only this service of the running stack (with the services bound to it); "
                        "a stopped project is started whole")
    p.set_defaults(handler=cmd_restart)
