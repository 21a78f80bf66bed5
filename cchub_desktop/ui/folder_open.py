""""Open project folder": hand the folder to the desktop's file manager, and when that is not possible say
why and what to do instead (the folder is gone: edit the project; no file manager: its path is on the
clipboard)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication


def no_file_manager_hint() -> str:
    """Where a folder opener is set up, on the platform this runs on."""
    if sys.platform == "darwin":
        return "Finder did not answer"
    if sys.platform.startswith("win"):
        return "Explorer did not answer"
    return ("no file manager is set up to open folders (xdg-open found none; install one, e.g. "
            "Files or Thunar, or set one with `xdg-mime default`)")


def open_folder(path: str) -> str | None:
    """Open `path` in the file manager. None when it opened; else one message: what happened, what to do."""
    if not Path(path).is_dir():
        return (f"The folder {path} is gone (moved, renamed or deleted). Edit the project to pick where it "
                "is now.")
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return None
    QGuiApplication.clipboard().setText(path)
    return (f"The folder {path} could not be shown: {no_file_manager_hint()}. Its path is copied to the "
            "clipboard: paste it into a terminal or a file manager.")


def names_no_folder_opener() -> bool:
    """Linux: the desktop's settings name no application for folders (`xdg-mime query default
    inode/directory` is empty). Then xdg-open, which Qt starts without waiting, may open nothing at all."""
    if not sys.platform.startswith("linux"):
        return False
    tool = shutil.which("xdg-mime")
    if tool is None:
        return False
    try:
        done = subprocess.run([tool, "query", "default", "inode/directory"], capture_output=True, text=True,
                              timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and not done.stdout.strip()


def unsure_hint(path: str) -> str | None:
    """After the folder was handed over: a status-bar line when this desktop may have no file manager."""
    if not names_no_folder_opener():
        return None
    QGuiApplication.clipboard().setText(path)
    return (f"If no file manager opened {path}: this desktop names none for folders; the path is copied to "
            "the clipboard.")
