"""Start at login: an XDG autostart entry on Linux (and other freedesktop.org desktops). No Qt here.

The entry is ``$XDG_CONFIG_HOME/autostart/cchub-desktop.desktop`` (``~/.config/autostart`` when the variable
is unset), made from the bundled launcher entry with ``Exec`` pointing at the program that runs now, so it
works from a virtualenv, a wheel install or a PyInstaller bundle alike. macOS and Windows keep their login
items themselves: there `enable()` raises AutostartError telling the user where to add the app.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cchub_desktop.resources import DESKTOP_FILE_ID, ResourceNotFoundError, desktop_file

AUTOSTART_FILE_NAME = f"{DESKTOP_FILE_ID}.desktop"
FALLBACK_ENTRY = """[Desktop Entry]
Type=Application
Name=CommandCenter Hub
Comment=Run one isolated CommandCenter stack per project
Exec=cchub-desktop
Icon=cchub-desktop
Terminal=false
"""
# Characters that must be escaped inside a quoted Exec argument (Desktop Entry Specification, "Exec key").
_EXEC_ESCAPED = '"`$\\'
_REPLACED_KEYS = {"Exec", "TryExec", "Hidden", "X-GNOME-Autostart-enabled"}
_EXEC_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')

MAC_HINT = ("On macOS, add CommandCenter Hub in System Settings → General → Login Items "
            "(\"Open at Login\").")
WINDOWS_HINT = ("On Windows, put a shortcut to CommandCenter Hub in your Startup folder (press Win+R, "
                "type shell:startup) or enable it in Task Manager → Startup apps.")


class AutostartError(Exception):
    """Start at login could not be changed; the text says why and what to do."""


def supported(platform: str | None = None) -> bool:
    """True where the XDG autostart folder is how desktops start apps at login."""
    platform = platform or sys.platform
    return not (platform.startswith("win") or platform == "darwin")


def autostart_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / "autostart"


def autostart_file() -> Path:
    return autostart_dir() / AUTOSTART_FILE_NAME


def launch_command() -> list[str]:
    """The command that starts this app as it is installed now."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script = Path(sys.executable).with_name("cchub-desktop")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "cchub_desktop"]


def quote_exec_argument(arg: str) -> str:
    """One argument of an Exec line, quoted when the specification asks for it."""
    if arg and not any(ch in _EXEC_RESERVED for ch in arg):
        return arg.replace("%", "%%")
    escaped = "".join("\\" + ch if ch in _EXEC_ESCAPED else ch for ch in arg)
    return '"' + escaped.replace("%", "%%") + '"'


def desktop_entry(command: Sequence[str], template: str | None = None) -> str:
    """The autostart entry: the launcher entry with Exec set to `command` and autostart switched on."""
    if template is None:
        try:
            template = desktop_file().read_text(encoding="utf-8")
        except (ResourceNotFoundError, OSError):
            template = FALLBACK_ENTRY
    main: list[str] = ["[Desktop Entry]"]
    rest: list[str] = []
    section = ""
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
            if section != "[Desktop Entry]":
                rest.append(line)
            continue
        key = stripped.partition("=")[0].strip()
        if section == "[Desktop Entry]":
            if key not in _REPLACED_KEYS:
                main.append(line)
        elif section:
            rest.append(line)
    # Exec is a string value too: its backslashes are escaped once more after quoting.
    # A line break in a path must not end the line (the rest would be read as keys of the entry): \n, \r
    # and \t are the string escapes the specification defines.
    main.insert(1, "Exec=" + " ".join(quote_exec_argument(a) for a in command).replace("\\", "\\\\")
                .replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t"))
    while main and not main[-1].strip():
        main.pop()
    main.append("X-GNOME-Autostart-enabled=true")
    return "\n".join(main + (["", *rest] if rest else [])) + "\n"


def is_enabled() -> bool:
    """True when the autostart entry exists and is not switched off inside."""
    try:
        text = autostart_file().read_text(encoding="utf-8")
    except OSError:
        return False
    keys = {k.strip(): v.strip().lower() for k, _, v in (ln.partition("=") for ln in text.splitlines())}
    return keys.get("Hidden") != "true" and keys.get("X-GNOME-Autostart-enabled") != "false"


def enable(command: Sequence[str] | None = None) -> Path:
    """Write the autostart entry (atomically) and return its path."""
    if not supported():
        raise AutostartError(MAC_HINT if sys.platform == "darwin" else WINDOWS_HINT)
    path = autostart_file()
    text = desktop_entry(command or launch_command())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".cchub-", suffix=".desktop", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise AutostartError(f"Start at login could not be turned on: {path.parent} is not writable "
                             f"({exc.strerror or exc}). Check the folder's permissions.") from exc
    return path


def disable() -> None:
    """Remove the autostart entry (nothing to do when it is not there)."""
    if not supported():
        return
    path = autostart_file()
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AutostartError(f"Start at login could not be turned off: {path} could not be removed "
                             f"({exc.strerror or exc}). Delete the file by hand.") from exc


def set_enabled(enabled: bool) -> None:
    if enabled:
        enable()
    else:
        disable()
