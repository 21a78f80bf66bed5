"""`cchub env`: the backend's environment variables, for one project or for all projects.

    cchub env NAME                          list what NAME's backend gets (secret values are never shown)
    cchub env NAME KEY=VALUE …              set plain variables
    cchub env NAME --secret KEY             set a secret; its value is read from the terminal (or one line of
                                            stdin), never from the command line, where other users can see it
    cchub env NAME --unset KEY
    cchub env --all-projects [KEY=VALUE …] [--secret KEY] [--unset KEY]

A change takes effect at the project's next start. No Qt, no Dagger.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cchub_desktop.cli_project import CliError, find_row
from cchub_desktop.env_vars import ALL, EnvError, EnvironmentStore, check_key, check_value
from cchub_desktop.paths import app_paths


def _read_secret(key: str) -> str:
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Value of {key} (not shown): ")
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise CliError(f"no value given for {key}; nothing was changed")
    return value


def cmd_env(args: argparse.Namespace) -> int:
    items: list[str] = list(args.items)
    if args.all_projects:
        scope, label, row = ALL, "all projects", None
    else:
        if not items:
            raise CliError("name a project, or give --all-projects")
        row = find_row(items.pop(0))
        scope, label = row.data_key, f"'{row.name}'"
    paths = app_paths()
    paths.ensure()
    store = EnvironmentStore(paths)
    try:
        plain = [_pair(item) for item in items]
        for key in [*args.secret, *args.unset]:
            check_key(key)
        if not (plain or args.secret or args.unset):
            return _show(store, scope, label)
        secrets = [(key, check_value(key, _read_secret(key))) for key in args.secret]
        for key, value in plain:
            store.set(scope, key, value, secret=False)
        for key, value in secrets:
            where = store.set(scope, key, value, secret=True)
            print(f"{key}: secret, kept in the {'desktop keyring' if where == 'keyring' else where}")
        for key in args.unset:
            if not store.unset(scope, key):
                print(f"{key} was not set for {label}")
    except EnvError as exc:
        raise CliError(str(exc)) from None
    print(f"Saved for {label}: it takes effect at the next start" +
          (f" (running now: restart to apply, with 'cchub restart \"{row.name}\"')." if row and _running(row)
           else "."))
    return 0


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise EnvError(f"'{item}' is not KEY=VALUE (for a secret, use --secret {item})")
    return check_key(key), check_value(key, value)


def _running(row: Any) -> bool:
    from cchub_desktop.lease import live_status, owner_of

    return live_status(row.status, owner_of(app_paths().runtime_dir, row.data_key)) != "stopped"


def _show(store: EnvironmentStore, scope: str, label: str) -> int:
    shown = {v.key: (v, "all projects") for v in store.variables(ALL)}
    if scope != ALL:
        shown.update({v.key: (v, "this project") for v in store.variables(scope)})
    if not shown:
        print(f"No variables for {label}. Set one with: cchub env NAME KEY=VALUE (or --secret KEY).")
        return 0
    for key, (v, origin) in sorted(shown.items()):
        value = "<secret>" if v.secret else v.value
        print(f"{key}={value}  ({origin})")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="show or set the backend's environment variables (one project or all)")
    p.add_argument("items", nargs="*", metavar="NAME [KEY=VALUE ...]",
                   help="the project (left out with --all-projects), then variables to set")
    p.add_argument("--secret", action="append", default=[], metavar="KEY",
                   help="set KEY as a secret; its value is read from the terminal or stdin (repeatable)")
    p.add_argument("--unset", action="append", default=[], metavar="KEY", help="remove KEY (repeatable)")
    p.add_argument("--all-projects", action="store_true", help="the variables every project gets")
    p.set_defaults(handler=cmd_env)
