"""One line for any error of the operating system: what happened, where, what to do. No Qt here."""

from __future__ import annotations

import errno

_WHAT_TO_DO = {
    errno.ENOSPC: "no space left on the device: free some space and try again",
    errno.EDQUOT: "the disk quota is used up: free some space and try again",
    errno.EROFS: "the file system is read-only: make it writable (or set CCHUB_HOME to a writable folder)",
    errno.EACCES: "permission denied: make it yours and writable (or set CCHUB_HOME to a folder of yours)",
    errno.EPERM: "not permitted: make it yours and writable (or set CCHUB_HOME to a folder of yours)",
    errno.EEXIST: "a file is in the way where a folder is needed: move it aside and try again",
    errno.ENOTDIR: "a file is in the way where a folder is needed: move it aside and try again",
    errno.EISDIR: "a folder is in the way where a file is needed: move it aside and try again",
    errno.ENOENT: "it does not exist (removed meanwhile?): try again",
    errno.EIO: "the device reported an I/O error: check the disk",
}


def describe_os_error(exc: OSError, doing: str = "") -> str:
    """`could not write /x/y: no space left on the device: free some space and try again`."""
    where = exc.filename if exc.filename is not None else ""
    what = _WHAT_TO_DO.get(exc.errno or 0, (exc.strerror or str(exc)).rstrip(".").lower() + ": try again")
    prefix = f"{doing} " if doing else ""
    place = f"{prefix}{where}".strip() or "a file of the app"
    return " ".join(f"{place}: {what}.".split())
