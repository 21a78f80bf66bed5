"""The one button that helps with a failure, chosen from its message (the detail strip, the error box)."""

from __future__ import annotations

OPEN_SETTINGS = "Open Settings"
CHANGE_PORTS = "Change ports"
SHOW_LOG = "Show log"


def remedy_for(message: str) -> str:
    """The button that helps with a failure: the settings for engine and source problems, the project's
    ports when one is taken, else the log."""
    text = message.casefold()
    if "port " in text and ("in use" in text or "taken" in text or "already" in text):
        return CHANGE_PORTS
    if "settings" in text or "docker" in text or "dagger" in text or "engine" in text:
        return OPEN_SETTINGS
    return SHOW_LOG
