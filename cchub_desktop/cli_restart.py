"""`cchub restart NAME`: stop a project wherever it runs, then start it as `cchub start` does (in the app's
window when the app runs, else in the foreground). A project that is not running is started."""

from __future__ import annotations

import argparse
from typing import Any

from cchub_desktop.cli_lifecycle import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    _ask_owner_to_stop,
    _stack_gone,
    _wait,
    cmd_start,
)
from cchub_desktop.cli_project import CliError, find_row
from cchub_desktop.lease import busy_message, owner_of
from cchub_desktop.paths import app_paths

SERVICES = ("postgres", "redis", "nats", "backend", "worker", "beat", "frontend")   # stack/recipe.py


def cmd_restart(args: argparse.Namespace) -> int:
    paths = app_paths()
    row = find_row(args.project)
    if args.service is not None:
        if args.service not in SERVICES:
            raise CliError(f"no service named '{args.service}'; the stack's services are: {', '.join(SERVICES)}")
        # a Dagger service is bound into its dependents by hostname within the session; stopping one and
        # starting a new one leaves those bindings on the old instance, so the whole stack restarts
        print(f"Restarting only {args.service} is not supported: the other services are bound to it inside the "
              f"engine session. Restarting all of '{row.name}' instead.", flush=True)
    owner = owner_of(paths.runtime_dir, row.data_key)
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


def register(sub: Any) -> None:
    p = sub.add_parser("restart", help="stop a project wherever it runs, then start it again (as 'cchub start')")
    p.add_argument("project")
    p.add_argument("--no-wait", action="store_true", help="return once the app has taken the start request")
    p.add_argument("--timeout", type=float, default=START_TIMEOUT_S, help="seconds to wait for running")
    p.add_argument("--stop-timeout", type=float, default=STOP_TIMEOUT_S, help="seconds to wait for it to stop")
    p.add_argument("-v", "--verbose", action="store_true", help="foreground: also print the engine's log lines")
    p.add_argument("--service", metavar="S", help="the service to restart (for now the whole project restarts, "
                                                  "and says so)")
    p.set_defaults(handler=cmd_restart)
