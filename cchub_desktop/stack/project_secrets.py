"""A project's secrets as the store knows them: made once at the first start (and recorded by fingerprint),
then required to be exactly those. Used by every path that opens a project's database: a start in the app
or `cchub up`, a backup or restore. No Qt here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cchub_desktop.paths import AppPaths
from cchub_desktop.stack.secrets_store import ProjectSecrets, load_checked

if TYPE_CHECKING:
    from cchub_desktop.store import Project, ProjectStore


def made_before(project: Project) -> bool:
    """The project's database may exist: its database image was recorded at a start (schema 1's started
    projects were recorded by the migration; a reset forgets it)."""
    return project.db_image is not None


def checked_secrets(store: ProjectStore, project: Project, paths: AppPaths) -> ProjectSecrets:
    """The project's secrets; records their fingerprint the first time. StackError when they are missing
    or are not the recorded ones (stack/secrets_store.load_checked)."""
    assert project.id is not None
    values, new = load_checked(paths.secrets_dir, project.data_key, project.secrets_fingerprint,
                               made_before=made_before(project), name=project.name)
    if new is not None:
        store.record_secrets(project.id, new)
    return values
