"""End-to-end fixtures: a virtual desktop (Xvfb + openbox + trayer) per module; see virtual_desktop.py."""

from __future__ import annotations

from tests.e2e.virtual_desktop import virtual_desktop

__all__ = ["virtual_desktop"]
