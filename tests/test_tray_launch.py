"""At launch: the window shown, kept in the tray, or minimized (start minimized without a tray); the icon's
left click brings the window back."""

from __future__ import annotations

from PySide6.QtWidgets import QSystemTrayIcon

from tests import tray_fixtures
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env


def relaunch_view(hub: Desktop) -> None:
    """What launching does with the window, on a window hidden as before a launch."""
    hub.window.hide()
    hub.window.showNormal()
    hub.window.hide()
    hub.integration.show_at_launch()


def test_by_default_the_window_shows(desktop: Desktop) -> None:
    relaunch_view(desktop)
    assert desktop.window.isVisible()
    assert not desktop.window.isMinimized()
    assert desktop.tray.icon.isVisible()


def test_start_minimized_keeps_the_window_in_the_tray(desktop: Desktop) -> None:
    desktop.settings.start_minimized = True
    relaunch_view(desktop)
    assert not desktop.window.isVisible()
    assert desktop.tray.icon.isVisible()


def test_start_minimized_without_a_tray_minimizes_the_window(desktop: Desktop) -> None:
    desktop.settings.start_minimized = True
    desktop.set_tray(False)
    relaunch_view(desktop)
    desktop.qtbot.waitUntil(lambda: desktop.window.isVisible() and desktop.window.isMinimized())


def test_clicking_the_icon_brings_the_window_back(desktop: Desktop) -> None:
    desktop.window.showMinimized()
    desktop.tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert desktop.window.isVisible()
    assert not desktop.window.isMinimized()
    desktop.window.hide()
    desktop.tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.DoubleClick)
    assert desktop.window.isVisible()
