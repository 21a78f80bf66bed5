"""Which PostgreSQL image a project's database runs on (no Qt, no engine).

A PostgreSQL data folder only opens with the major version that initialised it. The project records, at its
first start, the image that initialised its volume (store columns db_image/db_major; projects from schema 1
that had been started are recorded as postgres:15-alpine/15). Later starts keep the recorded image: a
different image in Settings never reaches an old volume, and a different major is reported as needing an
explicit upgrade (dump with the old server, restore into a new volume with the new one).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cchub_desktop.store import Project, ProjectStore

_MAJOR_RE = re.compile(r"^(?:pg)?(\d{1,2})(?:[.\-_]|$)")


def pgdata_volume(data_key: str, major: int | None = None) -> str:
    """The cache volume of a project's PostgreSQL data: cchub-<data key>-pgdata for the one its first start
    created, cchub-<data key>-pgdata-pg<major> for the one an upgrade to that major creates (the project
    records which one it uses: Project.db_volume)."""
    return f"cchub-{data_key}-pgdata" + (f"-pg{major}" if major is not None else "")


def image_major(image: str) -> int | None:
    """The PostgreSQL major of an image reference from its tag: postgres:15-alpine -> 15,
    pgvector/pgvector:pg16 -> 16, postgres:16.2 -> 16; None when the tag does not say (latest, a digest)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = _MAJOR_RE.match(last.split(":", 1)[1])
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class DbImageChoice:
    image: str          # the image this start uses
    major: int | None
    recorded: bool      # the project already had an image recorded
    note: str = ""      # a line for the log when Settings name another image

    @property
    def needs_record(self) -> bool:
        return not self.recorded


def upgrade_hint(project_name: str) -> str:
    """How to upgrade a project's database, for messages."""
    return (f"stop the project, then run `cchub upgrade-db {shlex.quote(project_name)}` (or choose "
            "Upgrade database… in the project's ⋯ menu or right-click menu)")


def choose_db_image(recorded_image: str | None, recorded_major: int | None, settings_image: str,
                    project_name: str = "NAME") -> DbImageChoice:
    if not recorded_image:
        return DbImageChoice(settings_image, image_major(settings_image), recorded=False)
    major = recorded_major if recorded_major is not None else image_major(recorded_image)
    if settings_image == recorded_image:
        return DbImageChoice(recorded_image, major, recorded=True)
    wanted = image_major(settings_image)
    if wanted is not None and major is not None and wanted > major:
        note = (f"[hub] Settings name the PostgreSQL image {settings_image} (PostgreSQL {wanted}), but this "
                f"project's database was created by {recorded_image} (PostgreSQL {major}) and cannot be opened "
                f"by another major version: keeping {recorded_image}. Moving to PostgreSQL {wanted} needs an "
                f"explicit upgrade: {upgrade_hint(project_name)}. It copies the database into a new one and "
                "keeps the old.")
    elif wanted is not None and major is not None and wanted != major:
        note = (f"[hub] Settings name the PostgreSQL image {settings_image} (PostgreSQL {wanted}), older than "
                f"{recorded_image} (PostgreSQL {major}), which created this project's database: keeping "
                f"{recorded_image} (a database cannot move to an older major version).")
    else:
        note = (f"[hub] Settings name the PostgreSQL image {settings_image}; this project's database was "
                f"created by {recorded_image}, which it keeps using.")
    return DbImageChoice(recorded_image, major, recorded=True, note=note)


def pin_db_image(store: ProjectStore, project: Project, settings_image: str) -> Project:
    """Before a start: record the image that will initialise the volume when none is recorded yet, and
    return the project as stored (with the image that won when another process recorded first)."""
    if project.db_image or project.id is None:
        return project
    return store.record_db_image(project.id, settings_image, image_major(settings_image))
