"""Before the QApplication: on Linux, a window needs an X11 or Wayland display. Without one Qt aborts
(exit 134) with a message about xcb libraries that hides the real cause; this says it in one line."""

from __future__ import annotations

import sys
from collections.abc import Mapping

EXIT_NO_DISPLAY = 2


def missing_display(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """The one line to print when no display can be reached, else None. Qt platforms that need no display
    (offscreen, minimal, vnc, eglfs, linuxfb …) pass."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "").strip().lower()
    x11, wayland = bool(env.get("DISPLAY", "").strip()), bool(env.get("WAYLAND_DISPLAY", "").strip())
    if qpa.startswith("xcb"):
        needed, present = "DISPLAY is", x11
    elif qpa.startswith("wayland"):
        needed, present = "WAYLAND_DISPLAY is", wayland
    elif qpa:
        return None
    else:
        needed, present = "neither DISPLAY nor WAYLAND_DISPLAY is", x11 or wayland
    if present:
        return None
    return (f"cchub-desktop: no display to open the window on ({needed} set). Run it from a desktop session "
            "(or over `ssh -X`), or use the `cchub` command line, which needs no display.")
