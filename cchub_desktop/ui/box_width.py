"""Message boxes wide enough for their titles. A QMessageBox sizes itself to its text, so a short message under a
long title ("alpha: the database was not upgraded") got a narrow box whose title the window manager cut in the
middle ("alpha: the d…t upgraded"). No asyncio here."""

from __future__ import annotations

from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QGridLayout, QMessageBox, QSizePolicy, QSpacerItem

# what a title bar takes besides the title: the window menu, minimise/close buttons and margins (openbox,
# KWin, Mutter, Windows and macOS all fit in this)
TITLE_BAR_EXTRA = 140
SCREEN_SHARE = 0.8   # never wider than this share of the screen: a very long title is cut, as elsewhere


def shown_title(title: str) -> str:
    """The title as the title bar shows it: Qt adds " — <application display name>" on Linux desktops."""
    name = QGuiApplication.applicationDisplayName()
    return f"{title} \u2014 {name}" if name and name != title else title


def title_width(title: str) -> int:
    """The width a message box needs for `title` to show whole in its title bar (bold, as most title bars)."""
    font = QGuiApplication.font()
    font.setBold(True)
    width = QFontMetrics(font).horizontalAdvance(shown_title(title)) + TITLE_BAR_EXTRA
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        width = min(width, int(screen.availableGeometry().width() * SCREEN_SHARE))
    return width


def fit_title(box: QMessageBox) -> QMessageBox:
    """Widen `box` to its title (a spacer across its grid: QMessageBox ignores a minimum width set on it)."""
    layout = box.layout()
    if isinstance(layout, QGridLayout):
        spacer = QSpacerItem(title_width(box.windowTitle()), 0, QSizePolicy.Policy.Minimum,
                             QSizePolicy.Policy.Expanding)
        layout.addItem(spacer, layout.rowCount(), 0, 1, layout.columnCount())
    return box
