"""Projects in SQLite via SQLModel: model, validation, migrations, ProjectStore. No Qt here.

Names are imported when first used (PEP 562): `from cchub_desktop.store.rows import ...` (the quick read
with the stdlib, for `cchub list` and the first paint) then loads no SQLAlchemy/SQLModel.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cchub_desktop.store.models import Project
    from cchub_desktop.store.project_store import ProjectStore
    from cchub_desktop.store.rows import PORT_FIELDS, ProjectStatus, StoreError
    from cchub_desktop.store.validation import MAX_NAME_LENGTH, ValidationError

__all__ = ["MAX_NAME_LENGTH", "PORT_FIELDS", "Project", "ProjectStatus", "ProjectStore", "StoreError",
           "ValidationError"]
_HOME = {"MAX_NAME_LENGTH": "validation", "PORT_FIELDS": "rows", "Project": "models", "ProjectStatus": "rows",
         "ProjectStore": "project_store", "StoreError": "rows", "ValidationError": "validation"}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
