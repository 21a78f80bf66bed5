"""`cchub db-url NAME`: the connection string of a project's PostgreSQL, to paste into a database client.

The database is reachable from this machine only when the project exposes its database ports (off by
default: the tunnels listen on all interfaces). The string holds the project's password: it is printed for
the user who asked, never written to a log.
"""

from __future__ import annotations

import argparse
from typing import Any

from cchub_desktop.cli_project import CliError, find_row


def cmd_db_url(args: argparse.Namespace) -> int:
    from cchub_desktop.paths import app_paths
    from cchub_desktop.stack.errors import StackError
    from cchub_desktop.stack.recipe import host_database_url
    from cchub_desktop.stack.secrets_store import load_or_create, secrets_file

    row = find_row(args.project)
    if not row.expose_db:
        raise CliError(f"'{row.name}' does not expose its database to this machine; turn it on with "
                       f"'cchub edit \"{row.name}\" --expose-db' (it applies at the next start)")
    paths = app_paths()
    if not secrets_file(paths.secrets_dir, row.data_key).exists():
        raise CliError(f"'{row.name}' has no database yet: its first start makes it (cchub start \"{row.name}\")")
    try:
        password = load_or_create(paths.secrets_dir, row.data_key).db_password
    except StackError as exc:
        raise CliError(exc.user_message) from None
    print(host_database_url(row.postgres_port, password))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("db-url", help="print the connection string of a project's database (needs --expose-db)")
    p.add_argument("project")
    p.set_defaults(handler=cmd_db_url)
