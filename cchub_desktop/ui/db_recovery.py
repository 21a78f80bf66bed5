"""When the project database cannot be used at launch: say what is wrong and offer what can fix it.

- damaged: restore the copy made before the last migration, or start with an empty database; either way the
  damaged file is kept next to it (store/recovery.py);
- locked by another program, read-only, or otherwise unavailable: retry (after closing that program or fixing
  the permissions) or quit; a read-only database can also be used as it is, without saving changes;
- written by a newer version of the app: quit (nothing is changed).
The dialog is a QMessageBox opened without blocking; the launch awaits the user's choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from cchub_desktop import APP_NAME
from cchub_desktop.paths import AppPaths
from cchub_desktop.store import ProjectStore, StoreError
from cchub_desktop.store.project_store import describe_db_error
from cchub_desktop.store.recovery import list_backups, restore_backup, start_fresh
from cchub_desktop.ui.box_width import fit_title

logger = logging.getLogger(__name__)
RESTORE, FRESH, RETRY, CONTINUE, QUIT = "restore", "fresh", "retry", "continue", "quit"
DIALOG_NAME = "db_recovery"


@dataclass(frozen=True)
class Problem:
    kind: str                          # StoreError.kind, or "readonly-open" (opened, but cannot save)
    message: str
    choices: tuple[tuple[str, str], ...]   # (choice, button text), the first is the default


def read_only(db_file: Path) -> bool:
    """True when the database (or its folder, where SQLite keeps its journal) cannot be written by us."""
    folder_ok = os.access(db_file.parent, os.W_OK)
    return not folder_ok or (db_file.exists() and not os.access(db_file, os.W_OK))


def locked_now(db_file: Path, wait: float = 1.0) -> bool:
    """True when another program holds the database locked for longer than `wait` seconds (a `cchub`
    command writing holds it for milliseconds). Any other problem is left to the store to describe."""
    if not db_file.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True, timeout=wait)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    except sqlite3.Error:
        return False
    return False


def problem_for(error: StoreError | None, db_file: Path) -> Problem:
    """What to tell and offer for a database that failed to open (`error`), or opened read-only (None)."""
    if error is None:
        return Problem("readonly-open", f"The project database {db_file} is read-only: you can start and stop "
                       "projects, but nothing you add or change is saved. Check the file's permissions (and "
                       "the folder's), then choose Retry.",
                       ((RETRY, "Retry"), (CONTINUE, "Continue without saving"), (QUIT, "Quit")))
    text = str(error)
    if error.kind == "corrupt":
        choices: list[tuple[str, str]] = []
        backups = list_backups(db_file)
        if backups:
            when = datetime.fromtimestamp(backups[0].stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            choices.append((RESTORE, f"Restore the backup of {when}"))
        choices += [(FRESH, "Start with an empty database"), (QUIT, "Quit")]
        return Problem("corrupt", f"{text}\n\nEither way the damaged file is kept next to it, so nothing is "
                       "deleted.", tuple(choices))
    if error.kind == "newer":
        return Problem("newer", text, ((QUIT, "Quit"),))
    return Problem(error.kind, text, ((RETRY, "Retry"), (QUIT, "Quit")))


async def ask(problem: Problem, parent: QWidget | None = None) -> str:
    """Show the problem and wait (without blocking the loop) for the user's choice; QUIT if closed."""
    box = QMessageBox(QMessageBox.Icon.Warning, f"{APP_NAME}: the project database", problem.message,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(DIALOG_NAME)
    fit_title(box)
    buttons: dict[QPushButton, str] = {}
    for choice, text in problem.choices:
        role = QMessageBox.ButtonRole.RejectRole if choice == QUIT else QMessageBox.ButtonRole.AcceptRole
        buttons[box.addButton(text, role)] = choice
    first = next(iter(buttons))
    box.setDefaultButton(first)
    box.setEscapeButton(next(b for b, c in buttons.items() if c == QUIT))
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not done.done():
            clicked = box.clickedButton()
            done.set_result(next((c for b, c in buttons.items() if b is clicked), QUIT))

    box.finished.connect(finished)
    box.open()
    try:
        return await done
    finally:
        box.deleteLater()


async def open_store_with_recovery(paths: AppPaths) -> ProjectStore | None:
    """The project store, after asking the user what to do about a database that cannot be used; None when
    they chose to quit. Each repair keeps the file it replaces."""
    while True:
        try:
            paths.ensure()
            if locked_now(paths.db_file):   # say so at once, not after SQLite's 10 s busy timeout
                raise describe_db_error(paths.db_file, sqlite3.OperationalError("database is locked"))
            store = ProjectStore(paths.db_file)
        except StoreError as exc:
            logger.error("the project database cannot be used: %s", exc)
            problem = problem_for(exc, paths.db_file)
        except OSError as exc:
            logger.error("the data folder cannot be used: %s", exc)
            problem = Problem("unavailable", f"The data folder {paths.data_dir} cannot be used: "
                              f"{exc.strerror or exc}. Check its permissions and the free disk space.",
                              ((RETRY, "Retry"), (QUIT, "Quit")))
        else:
            if not read_only(paths.db_file):
                return store
            problem = problem_for(None, paths.db_file)
            choice = await ask(problem)
            if choice == CONTINUE:
                return store
            store.close()
            if choice == QUIT:
                return None
            continue
        choice = await ask(problem)
        if choice == QUIT:
            return None
        if choice == RESTORE:
            kept = restore_backup(paths.db_file, list_backups(paths.db_file)[0])
            logger.warning("restored the project database from a backup; the damaged one is kept as %s", kept)
        elif choice == FRESH:
            kept = start_fresh(paths.db_file)
            logger.warning("started with an empty project database; the damaged one is kept as %s", kept)

