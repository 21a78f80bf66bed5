"""Projects in SQLite via SQLModel: model, validation, migrations, ProjectStore. No Qt here."""

from cchub_desktop.store.models import PORT_FIELDS, Project, ProjectStatus
from cchub_desktop.store.project_store import ProjectStore, StoreError
from cchub_desktop.store.validation import MAX_NAME_LENGTH, ValidationError

__all__ = ["MAX_NAME_LENGTH", "PORT_FIELDS", "Project", "ProjectStatus", "ProjectStore", "StoreError",
           "ValidationError"]
