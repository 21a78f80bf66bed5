"""Does the tray's menu reach its host over D-Bus, where a host may never say that a submenu opens?

Qt shows a QSystemTrayIcon's menu in one of two ways. On Windows, macOS and X11 trays without a
StatusNotifierItem host (XEmbed: trayer, stalonetray, older panels) the menu is a real menu: a QMenu widget, a
Win32 menu (WM_INITMENUPOPUP) or an NSMenu, and every submenu emits `aboutToShow` as it opens. On Linux, when
a StatusNotifierWatcher is registered on the session bus when the icon is made (Qt's generic Unix theme,
`isDBusTrayAvailable()`), the icon is a StatusNotifierItem and the menu is exported as com.canonical.dbusmenu:
the host draws it from the layout it reads. Qt's adaptor (qdbusmenuadaptor.cpp) emits a submenu's
`aboutToShow` only when the host calls `AboutToShow(id)`, and answers that no update is needed; the
`Event(id, "opened")` that some hosts send instead is ignored (only "clicked", "hovered" and "closed" are
handled). KDE's importer and GNOME's AppIndicator extension call both and re-read an empty submenu; a host
that only sends "opened", or draws the layout it read at first, would show an empty submenu.

So the tray fills each project's submenu when it opens only where the menu is a real menu, and builds the
whole menu up front where it is exported over D-Bus.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtGui import QGuiApplication

logger = logging.getLogger(__name__)

STATUS_NOTIFIER_WATCHER = "org.kde.StatusNotifierWatcher"
# Platforms whose theme never makes a D-Bus tray icon (no generic Unix theme behind them).
_NO_DBUS_TRAY = {"windows", "cocoa", "offscreen", "minimal", "minimalegl"}


def menu_exported_over_dbus() -> bool:
    """True when this process's tray icon is (or may be) a StatusNotifierItem with a D-Bus menu."""
    if sys.platform in ("win32", "darwin") or QGuiApplication.platformName() in _NO_DBUS_TRAY:
        return False
    return status_notifier_watcher_registered()


def status_notifier_watcher_registered() -> bool:
    """Qt's own test for a D-Bus tray: a StatusNotifierWatcher on the session bus. True when it cannot be
    told (the eager menu works with every host)."""
    try:
        from PySide6.QtDBus import QDBusConnection
    except ImportError:   # a build without QtDBus: Qt may still export the menu
        return True
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():   # no session bus: Qt cannot export the menu either
        return False
    interface = bus.interface()
    if interface is None:
        return True
    reply = interface.isServiceRegistered(STATUS_NOTIFIER_WATCHER)
    if not reply.isValid():
        logger.info("the session bus did not say whether a tray host runs (%s): the tray menu is built up front",
                    reply.error().message())
        return True
    return bool(reply.value())
