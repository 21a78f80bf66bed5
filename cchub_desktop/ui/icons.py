"""QIcons for the window and the tray, and the application's identity towards the desktop.

Paths come from ``cchub_desktop.resources``; this module only turns them into Qt objects.
Build icons after the QGuiApplication exists.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication, QIcon

from cchub_desktop import APP_NAME, ORG_NAME, __version__
from cchub_desktop.resources import (
    DESKTOP_FILE_ID,
    TrayState,
    app_icon_pngs,
    tray_icon_pngs,
)

_cache: dict[tuple[tuple[int, Path], ...], QIcon] = {}


def _icon_from_pngs(pngs: dict[int, Path]) -> QIcon:
    """One QIcon holding every hand-rendered PNG size; Qt picks the nearest for other sizes."""
    key = tuple(sorted(pngs.items()))
    icon = _cache.get(key)
    if icon is None:
        icon = QIcon()
        for size, path in sorted(pngs.items()):
            icon.addFile(str(path), QSize(size, size))
        _cache[key] = icon
    return icon


def app_icon() -> QIcon:
    """The application icon (window title bars, task switcher, dialogs)."""
    return _icon_from_pngs(app_icon_pngs())


def tray_icon(state: TrayState | str) -> QIcon:
    """The tray icon for a state: idle, running (green), starting (amber ring), error (red "!")."""
    return _icon_from_pngs(tray_icon_pngs(state))


def install_app_identity(app: QGuiApplication) -> None:
    """Name, version, window icon and desktop-file id of the running app.

    Call once, right after creating the QApplication and before the first window is created:
    on X11 the WM_CLASS of every window is taken from the application name at that moment, and
    it must equal the .desktop file's StartupWMClass (``cchub-desktop``) for docks and task
    bars to group the window under the launcher. On Wayland the desktop file name is the app id.
    """
    app.setApplicationName(DESKTOP_FILE_ID)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(ORG_NAME)
    app.setDesktopFileName(DESKTOP_FILE_ID)
    app.setWindowIcon(app_icon())
