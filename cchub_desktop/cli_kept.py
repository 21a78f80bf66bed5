"""`cchub kept-data [--delete WHICH]`: the data removed projects left (and old database volumes upgrades kept),
and deleting it, like `docker volume ls` / `docker volume rm`. Deleting asks first (or --yes), empties the
volumes through the engine and then deletes the files: if the engine cannot be reached, nothing is deleted.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cchub_desktop.cli_project import CliError, confirm, open_store


def cmd_kept_data(args: argparse.Namespace) -> int:
    from cchub_desktop.kept_data import KeptDataError, choose, list_kept
    from cchub_desktop.paths import app_paths

    store = open_store()
    paths = app_paths()
    items = list_kept(store, paths)
    if args.delete is None:
        if args.json:
            print(json.dumps([item.as_dict() for item in items]))
        elif not items:
            print("No kept data: every volume and copy the app holds belongs to a listed project.")
        else:
            for item in items:
                print(f"{item.key}\t{item.describe()}")
        return 0
    try:
        item = choose(items, args.delete)
    except KeptDataError as exc:
        _fail(args, str(exc))
    confirm(f"Delete {item.describe()}? This cannot be undone. [y/N] ", args.yes)
    _delete(args, item, store, paths)
    message = f"Deleted {item.describe()}."
    if args.json:
        print(json.dumps({"deleted": item.key, "message": message}))
    else:
        print(message)
    return 0


def _fail(args: argparse.Namespace, message: str, logged: bool = False) -> Any:
    if args.json:   # the window reads why (engine_jobs.py)
        print(json.dumps({"error": message, "logged": logged}), flush=True)
    raise CliError(message)


def _delete(args: argparse.Namespace, item: Any, store: Any, paths: Any) -> None:
    import asyncio

    from cchub_desktop.kept_data import OLD_VOLUME, OLD_VOLUME_NAME, KeptDataError, delete_kept
    from cchub_desktop.settings import load_for_cli
    from cchub_desktop.stack import StackError, StackLog

    match = OLD_VOLUME_NAME.fullmatch(item.volumes[0]) if item.kind == OLD_VOLUME else None
    log = StackLog(paths.log_file(match["key"] if match is not None else item.key))
    try:
        asyncio.run(delete_kept(item, store, load_for_cli(paths.settings_file), paths, log))
    except KeptDataError as exc:
        _fail(args, str(exc))
    except StackError as exc:
        _fail(args, exc.user_message, logged=exc.logged)
    finally:
        log.close()


def register(sub: Any) -> None:
    p = sub.add_parser("kept-data", help="list the data removed projects left (or delete it: --delete)")
    p.add_argument("--delete", metavar="WHICH",
                   help="delete one item: its key as listed, or the removed project's name; asks first")
    p.add_argument("--yes", action="store_true", help="do not ask before deleting")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_kept_data)
