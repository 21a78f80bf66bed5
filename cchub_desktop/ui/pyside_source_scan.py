"""PySide6's import hook without the source kept in memory.

Once PySide6 is imported, its `__feature__` support looks at every module imported afterwards to decide whether
it uses PySide6: `shibokensupport.feature._mod_uses_pyside` reads the module's source with
`inspect.getsource`, which leaves the whole text in `linecache` for good. The app imports SQLModel, SQLAlchemy,
pydantic and the stack after its window has painted (app.py), i.e. after PySide6: ~500 modules, ~10 MB of
source text, ~18 MB of RSS that freeing the cache does not give back. `install()` puts in the same test (does
the source contain "PySide6"?) reading the file directly, so nothing is cached. When PySide6 has no such hook
(another version), nothing changes.
"""

from __future__ import annotations

import sys
from types import ModuleType


def _uses_pyside(module: ModuleType) -> bool:
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, "rb") as f:
            return b"PySide6" in f.read()
    except OSError:
        return False


def install() -> bool:
    """True when PySide6's scan was replaced (PySide6 must be imported already)."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = _uses_pyside  # type: ignore[attr-defined]
    return True
