"""Names read from the project database that become parts of file paths, checked where they do.

A project's data key names its lease, secrets file, log files and volumes. The app makes keys itself
(`p` + 12 hex digits; projects from schema 1 kept their slug), so a key of any other shape (`../../x`, a
slash, a dot, a NUL) comes from a damaged or hand-edited database and is refused before it reaches a path:
nothing outside the app's folders can be created or deleted through it. No Qt here.
"""

from __future__ import annotations

import re

KEY_SHAPE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class UnsafeName(ValueError):
    """A stored name that must not become part of a path; the message is one line for the user."""


def checked_key(key: object) -> str:
    """The data key unchanged when it has a shape the app makes; else UnsafeName."""
    if isinstance(key, str) and KEY_SHAPE.fullmatch(key):
        return key
    shown = repr(key)[:60]
    raise UnsafeName(f"the project database holds a data key the app never makes ({shown}); it may have been "
                     "edited by hand. Nothing was changed: restore the database from a backup, or remove "
                     "the project and add it again.")
