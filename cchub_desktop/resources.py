"""Where the app's bundled files (icons, the .desktop file) are, in every way the app can run.

No Qt here: this module only hands out paths. ``cchub_desktop.ui.icons`` builds the QIcons.

The files live in three places, one per way of running:

- frozen by PyInstaller: ``<sys._MEIPASS>/resources`` (``packaging/cchub-desktop.spec`` puts the
  top-level ``resources/`` folder there);
- source checkout, editable or wheel install: ``cchub_desktop/assets`` next to this module (package
  data; ``packaging/render_icons.py`` keeps it a copy of the top-level ``resources/`` folder).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

DESKTOP_FILE_ID = "cchub-desktop"
"""Name of the .desktop file, the icon theme name and the X11 WM_CLASS / Wayland app id."""

APP_ICON_SIZES: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_ICON_SIZES: tuple[int, ...] = (16, 22, 24, 32, 48, 64)

FROZEN_SUBDIR = "resources"
PACKAGE_SUBDIR = "assets"


class TrayState(StrEnum):
    """What the tray icon shows, from the most to the least urgent."""

    ERROR = "error"  # a stack failed
    STARTING = "starting"  # a stack is starting or stopping
    RUNNING = "running"  # at least one stack runs
    IDLE = "idle"  # nothing runs


class ResourceNotFoundError(FileNotFoundError):
    """A bundled file is missing: the installation is incomplete."""

    def __init__(self, name: str, searched: Path) -> None:
        self.name = name
        self.searched = searched
        super().__init__(
            f"The bundled file {name!r} is missing (looked in {searched}). "
            "The installation is incomplete: reinstall CommandCenter Hub."
        )


def resources_dir() -> Path:
    """The folder holding the bundled files for the way the app runs now."""
    meipass = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and meipass:
        return Path(meipass) / FROZEN_SUBDIR
    return Path(__file__).resolve().parent / PACKAGE_SUBDIR


def resource_path(name: str) -> Path:
    """Absolute path of a bundled file, e.g. ``resource_path("icons/cchub-desktop.svg")``.

    Raises ResourceNotFoundError (a FileNotFoundError) when the file is not there.
    """
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"resource names are relative paths inside the bundle, got {name!r}")
    base = resources_dir()
    path = base / relative
    if not path.is_file():
        raise ResourceNotFoundError(name, base)
    return path


def app_icon_svg() -> Path:
    return resource_path(f"icons/{DESKTOP_FILE_ID}.svg")


def app_icon_pngs() -> dict[int, Path]:
    """Pixel size -> PNG of the application icon, for every size in APP_ICON_SIZES."""
    return {size: resource_path(f"icons/{DESKTOP_FILE_ID}-{size}.png") for size in APP_ICON_SIZES}


def tray_icon_svg(state: TrayState | str) -> Path:
    return resource_path(f"icons/tray-{TrayState(state).value}.svg")


def tray_icon_pngs(state: TrayState | str) -> dict[int, Path]:
    """Pixel size -> PNG of the tray icon for ``state``, for every size in TRAY_ICON_SIZES."""
    value = TrayState(state).value
    return {size: resource_path(f"icons/tray-{value}-{size}.png") for size in TRAY_ICON_SIZES}


def desktop_file() -> Path:
    """The freedesktop.org launcher entry (a template for XDG autostart, too)."""
    return resource_path(f"{DESKTOP_FILE_ID}.desktop")
