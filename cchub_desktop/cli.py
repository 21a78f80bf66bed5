"""`cchub`: the command line for scripting CommandCenter Hub.

Heavy modules (Dagger, the stack, SQLModel) are imported only by the commands that need them: `cchub list`
reads the database with the stdlib (store/rows.py), so it stays quick.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from cchub_desktop import __version__
from cchub_desktop.cli_project import CliError, confirm, find_project, hold, open_store, read_rows
from cchub_desktop.os_errors import describe_os_error
from cchub_desktop.paths import app_paths
from cchub_desktop.safe_names import UnsafeName
from cchub_desktop.store.rows import PORT_FIELDS, StoreError
from cchub_desktop.store.validation import ValidationError

if TYPE_CHECKING:  # SQLModel/SQLAlchemy load only for the commands that write (`cchub list` reads without)
    from cchub_desktop.store import Project
    from cchub_desktop.store.models import RetiredData

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def _port_options(parser: argparse.ArgumentParser) -> None:
    for field in PORT_FIELDS:
        flag = "--" + field.replace("_", "-")
        # parsed as text on purpose: the store's rules give the message for bad values
        parser.add_argument(flag, dest=field, metavar="N", help=f"host {field.replace('_', ' ')}")


def cmd_list(args: argparse.Namespace) -> int:
    from cchub_desktop.lease import live_status, owner_of

    projects = read_rows()
    runtime = app_paths().runtime_dir
    # the state from each project's owner (lease.py), not the last one recorded: a process that died
    # running a stack left "running" behind
    live = {p.id: live_status(p.status, owner_of(runtime, p.data_key)) for p in projects}
    if args.json:
        from cchub_desktop.host_copies import summary

        data_dir = app_paths().data_dir
        print(json.dumps([{**p.to_public_dict(), "status": live[p.id], "host_copy": summary(data_dir, p.data_key)}
                          for p in projects], indent=2, ensure_ascii=False))
        return 0
    if not projects:
        print("No projects yet. Add one with: cchub add NAME /path/to/folder")
        return 0
    rows = [("NAME", "STATUS", "FRONTEND", "BACKEND", "POSTGRES", "REDIS", "FOLDER")]
    for p in projects:
        db = "" if p.expose_db else " (internal)"
        shown = "failed" if live[p.id] == "error" else live[p.id]   # the window's and the tray's word
        rows.append((one_line(p.name), one_line(shown), str(p.frontend_port), str(p.backend_port),
                     f"{p.postgres_port}{db}", f"{p.redis_port}{db}", one_line(p.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def one_line(text: str) -> str:
    """`text` with every character that does not print (a newline, a tab, an escape, a bidi override...)
    written as its Python escape: one project is one line, and a terminal shows what is stored. Rows written
    before such characters were refused can hold them."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def resolved_path(raw: str) -> str:
    """A folder as typed in a terminal: relative to the current folder (`cchub add demo .`), `~` expanded.
    Empty text stays empty, so the store's rule gives its message."""

    return os.path.abspath(os.path.expanduser(raw)) if raw.strip() else raw


def _ports_from(args: argparse.Namespace) -> dict[str, object]:
    return {f: getattr(args, f) for f in PORT_FIELDS if getattr(args, f) is not None}


def cmd_add(args: argparse.Namespace) -> int:
    store = open_store()
    retired = store.retired_for(args.name)
    if args.adopt_data and not retired:
        raise CliError(f"no removed project named '{args.name}' left data to use; nothing was added")
    adopt = retired[0].data_key if args.adopt_data else None
    project = store.add(args.name, resolved_path(args.path), expose_db=args.expose_db,
                        allow_broad_path=args.allow_broad_path, adopt=adopt, **_ports_from(args))  # type: ignore[arg-type]
    print(f"Added '{project.name}': frontend http://localhost:{project.frontend_port}, "
          f"backend http://localhost:{project.backend_port}")
    sharing = [p.name for p in store.list() if p.path == project.path and p.id != project.id]
    if sharing:
        print(f"Note: project {', '.join(repr(n) for n in sharing)} uses this folder too; each project gets a "
              "stack and data of its own.")
    if adopt is not None:
        print(f"It uses the data that '{retired[0].name}' left when it was removed on "
              f"{retired[0].removed_at:%Y-%m-%d %H:%M} ({describe_retired(retired[0])}).")
    elif retired:
        print(f"A removed project named '{retired[0].name}' left its data ({describe_retired(retired[0])}, removed "
              f"{retired[0].removed_at:%Y-%m-%d}); this project starts with new, empty data. To use the old data "
              f"instead: cchub remove \"{project.name}\" && cchub add \"{project.name}\" FOLDER --adopt-data")
    return 0


def describe_retired(retired: RetiredData) -> str:
    """What is known of data left behind: its database image and its folder."""
    image = f"database {retired.db_image}" if retired.db_image else "database never started"
    return f"{image}, was in {retired.path}"


def cmd_edit(args: argparse.Namespace) -> int:
    store = open_store()
    project = find_project(store, args.project)
    changes: dict[str, object] = dict(_ports_from(args))
    if args.new_name is not None:
        changes["name"] = args.new_name
    if args.path is not None:
        changes["path"] = resolved_path(args.path)
        changes["allow_broad_path"] = args.allow_broad_path
    if args.expose_db is not None:
        changes["expose_db"] = args.expose_db
    if not changes:
        raise CliError("nothing to change: give --name, --path, a port or --expose-db/--no-expose-db")
    if "allow_broad_path" in changes and "path" in changes:
        changes.pop("allow_broad_path")
        if args.allow_broad_path:
            changes["allow_broad_path"] = True
    assert project.id is not None
    if set(changes) - {"name"}:   # folder, ports, exposure: never under a stack that runs somewhere
        with hold(app_paths(), project, "cchub edit", "being edited"):
            updated = store.update(project.id, **changes)
    else:
        updated = store.update(project.id, **changes)
    print(f"Updated '{updated.name}'.")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    store = open_store()
    project = find_project(store, args.project)
    assert project.id is not None
    with hold(app_paths(), project, "cchub remove", "being removed"):
        if args.delete_data:
            confirm(f"Delete the database (PostgreSQL and Redis data) and the passwords of '{project.name}'? "
                    "This cannot be undone. [y/N] ", args.yes)
            _delete_data(project, args.json)
        store.remove(project.id, data_kept=not args.delete_data)
    kept = "" if args.delete_data else (f" Its database and passwords are kept: add it again with "
                                        f"'cchub add \"{project.name}\" FOLDER --adopt-data' to use them "
                                        "(--delete-data deletes them).")
    message = f"Removed '{project.name}'. Its folder {project.path} was not touched.{kept}"
    if args.json:
        print(json.dumps({"project": project.name, "removed": True, "data_deleted": args.delete_data,
                          "message": message}))
    else:
        print(message)
    return 0


def _delete_data(project: Project, as_json: bool = False) -> None:
    """Empty the project's data volumes (an engine session), then delete its secrets and logs."""
    import asyncio

    from cchub_desktop.project_data import delete_project_data
    from cchub_desktop.settings import load_for_cli
    from cchub_desktop.stack import StackError, StackLog

    paths = app_paths()
    log = StackLog(paths.log_file(project.data_key))
    try:
        asyncio.run(delete_project_data(project, load_for_cli(paths.settings_file), paths, log))
    except StackError as exc:
        if as_json:   # the window reads why (engine_jobs.py); the log has the details it wrote
            print(json.dumps({"error": exc.user_message, "logged": exc.logged}), flush=True)
        raise CliError(exc.user_message) from exc
    finally:
        log.close()


# commands that need neither the stack's nor SQLModel's imports
QUICK_COMMANDS = ("list", "status", "stop", "logs", "open", "env")


HELP_BY_TASK = """by what you do:
  projects  list, add, edit, remove, env
  run       start, stop, restart, up, status, open
  inspect   logs, plan, doctor, status, db-url
  data      backup, restore, upgrade-db, reset-db, db-url, kept-data
  source    check-source, update
'cchub COMMAND --help' shows a command's options."""


def build_parser(*, stack_commands: bool = True) -> argparse.ArgumentParser:
    parser = _Parser(prog="cchub", description="Run CommandCenter stacks per project, from the command line.",
                     epilog=HELP_BY_TASK, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cchub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("list", help="list projects")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("add", help="add a project folder")
    p.add_argument("name")
    p.add_argument("path")
    _port_options(p)
    p.add_argument("--expose-db", action="store_true", help="also tunnel PostgreSQL and Redis to the host")
    p.add_argument("--allow-broad-path", action="store_true", help="accept the root or home folder")
    p.add_argument("--adopt-data", action="store_true",
                   help="use the database and passwords a removed project of this name left")
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser("edit", help="change a project")
    p.add_argument("project", help="the project's current name")
    p.add_argument("--name", dest="new_name")
    p.add_argument("--path")
    _port_options(p)
    p.add_argument("--expose-db", dest="expose_db", action="store_true", default=None)
    p.add_argument("--no-expose-db", dest="expose_db", action="store_false")
    p.add_argument("--allow-broad-path", action="store_true", help="accept the root or home folder")
    p.set_defaults(handler=cmd_edit)

    p = sub.add_parser("remove", help="remove a project (its folder is never touched)")
    p.add_argument("project")
    p.add_argument("--delete-data", action="store_true",
                   help="also delete its database (data volumes) and passwords; asks first")
    p.add_argument("--yes", action="store_true", help="do not ask before deleting data")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(handler=cmd_remove)

    from cchub_desktop.cli_lifecycle import register as register_lifecycle

    register_lifecycle(sub)
    from cchub_desktop.cli_database import register as register_db_url
    from cchub_desktop.cli_env import register as register_env
    from cchub_desktop.cli_kept import register as register_kept
    from cchub_desktop.cli_logs import register as register_logs
    from cchub_desktop.cli_restart import register as register_restart

    register_logs(sub)
    register_env(sub)
    register_db_url(sub)
    register_restart(sub)
    register_kept(sub)
    if stack_commands:
        _register_stack_commands(sub)
    return parser


def _register_stack_commands(sub: argparse._SubParsersAction[_Parser]) -> None:
    """plan / doctor / up / backup live with the stack; their modules import Dagger only when run."""
    try:
        from cchub_desktop.cli_stack import register
    except ImportError:
        return
    register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = bool(argv) and argv[0] in QUICK_COMMANDS  # `cchub list`: parsed without importing the stack
    try:
        try:
            args = build_parser(stack_commands=not quick).parse_args(argv)
        finally:
            sys.stdout.flush()   # `--help` printed and exits here
    except BrokenPipeError:   # `cchub --help | head -1`
        return _output_closed()
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()   # inside the try: a reader that has gone (`| head -1`) ends it quietly, below
        return code
    except BrokenPipeError:
        return _output_closed()
    except ValidationError as exc:
        hint = " Pass --allow-broad-path to confirm." if exc.field == "path" and "confirm" in exc.message else ""
        print(f"cchub: {exc.field}: {exc.message}{hint}", file=sys.stderr)
    except StoreError as exc:
        hint = (" Nothing was changed. Open the CommandCenter Hub app: it offers both." if exc.kind == "corrupt"
                else "")
        print(f"cchub: {exc}{hint}", file=sys.stderr)
    except (CliError, UnsafeName) as exc:
        print(f"cchub: {exc}", file=sys.stderr)
    except OSError as exc:   # a full disk, a read-only folder, a file where a folder belongs: one line
        print(f"cchub: {describe_os_error(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


def _output_closed() -> int:
    """Whoever read our output stopped reading (`cchub list --json | head -1`): end quietly, as `cat` does,
    with nothing more written (the interpreter's last flush would fail again and print a traceback)."""

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    # run as `python -m cchub_desktop.cli`: run the imported module, as the installed `cchub` does (one copy)
    from cchub_desktop.cli import main as installed_main

    sys.exit(installed_main())
