"""Names read from the project database that become parts of file paths, checked where they do.

A project's data key names its lease, secrets file, log files and volumes; its slug names its backups
(checked_slug: the same shape). The app makes keys itself (`p` + 12 hex digits; projects from schema 1
kept their slug), so a key of any other shape (`../../x`, a slash, a dot, a NUL) comes from a damaged or
hand-edited database and is refused before it reaches a path:
nothing outside the app's folders can be created or deleted through it. No Qt here.
"""

from __future__ import annotations

import re

KEY_SHAPE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class UnsafeName(ValueError):
    """A stored name that must not become part of a path; the message is one line for the user."""


def checked_key(key: object, what: str = "data key") -> str:
    """The data key (or `what` else, of the same shape) unchanged when it has a shape the app makes; else
    UnsafeName."""
    if isinstance(key, str) and KEY_SHAPE.fullmatch(key):
        return key
    shown = repr(key)[:60]
    raise UnsafeName(f"the project database holds a {what} the app never makes ({shown}); it may have been "
                     "edited by hand. Nothing was changed: restore the database from a backup, or remove "
                     "the project and add it again.")


def checked_slug(slug: object) -> str:
    """A project's slug (it names its backup files: lowercase letters, digits and dashes), or UnsafeName."""
    return checked_key(slug, "project slug")
