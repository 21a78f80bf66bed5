"""The project a `cchub` command works on, shared by every command module: the one-line failure (CliError),
the store and its rows, a project found by name, the project's lease for a short job, and the question asked
before its data is deleted. No Qt; SQLModel loads only for the commands that open the store.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from cchub_desktop.lease import Lease, LeaseHeld
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.store.rows import ProjectRow, read_projects

if TYPE_CHECKING:  # SQLModel/SQLAlchemy load only for the commands that write (`cchub list` reads without)
    from cchub_desktop.store import Project, ProjectStore


class CliError(Exception):
    """A failure to report as one line on stderr with exit code 1."""


def open_store() -> ProjectStore:
    from cchub_desktop.store import ProjectStore

    paths = app_paths()
    paths.ensure()
    return ProjectStore(paths.db_file)


def find_project(store: ProjectStore, name: str) -> Project:
    try:
        return store.get_by_name(name)
    except KeyError:
        raise CliError(f"no project named '{name}' (see 'cchub list')") from None


def read_rows() -> list[ProjectRow] | list[Project]:
    """The projects, by name: the quick stdlib read, or ProjectStore when the database is missing or has an
    older schema (it creates or migrates it; the quick read then works the next time)."""
    paths = app_paths()
    paths.ensure()   # creates the folders, or makes them private again if they were opened to others
    rows = read_projects(paths.db_file)
    return rows if rows is not None else open_store().list()


def find_row(name: str) -> ProjectRow:
    """The project named `name` (any case), read without SQLModel where the database allows."""
    wanted = name.casefold()
    for row in read_rows():
        if row.name.casefold() == wanted:
            return row  # type: ignore[return-value]
    raise CliError(f"no project named '{name}' (see 'cchub list')")


def hold(paths: AppPaths, project: Project | ProjectRow, command: str, doing: str) -> Lease:
    """The project's lease for a short job of this command ("cchub remove", "removing it"); CliError naming
    the owner when another process holds it."""
    try:
        return Lease.acquire(paths.runtime_dir, project.data_key, project.name, command, state=doing)
    except LeaseHeld as exc:
        raise CliError(str(exc)) from None


def confirm(question: str, yes: bool) -> None:
    """Ask before deleting data (skipped with --yes); CliError when not confirmed or no one can answer."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError("deleting a project's data needs --yes when not run from a terminal; nothing was removed")
    if input(question).strip().lower() not in ("y", "yes"):
        raise CliError("not confirmed; nothing was removed")
