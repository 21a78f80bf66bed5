"""CommandCenterConfig: everything one project's stack needs, frozen, built from the stored project."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop.env_vars import NO_ENVIRONMENT, ProjectEnvironment
from cchub_desktop.host_copies import copies_dir
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.db_image import DbImageChoice, choose_db_image, pgdata_volume
from cchub_desktop.stack.secrets_store import ProjectSecrets, load_or_create
from cchub_desktop.stack.source_settings import SourceSettings

if TYPE_CHECKING:
    from cchub_desktop.paths import AppPaths
    from cchub_desktop.store.rows import StoredProject


@dataclass(frozen=True)
class ImageSettings:
    postgres: str
    redis: str
    python: str
    node: str

    @classmethod
    def from_settings(cls, settings: AppSettings) -> ImageSettings:
        return cls(postgres=settings.postgres_image, redis=settings.redis_image,
                   python=settings.python_image, node=settings.node_image)


def _images_for(project: StoredProject, settings: AppSettings) -> tuple[ImageSettings, DbImageChoice]:
    """The images of a start: the PostgreSQL one is the project's recorded image once it has one (see
    stack/db_image.py), never a new major on an old volume."""
    images = ImageSettings.from_settings(settings)
    choice = choose_db_image(project.db_image, project.db_major, images.postgres, project.name)
    return dataclasses.replace(images, postgres=choice.image), choice


def _environment(paths: AppPaths, data_key: str) -> ProjectEnvironment:
    """The user's variables for a start; when they cannot be read (a secret's value missing), the reason, which
    a start reports (stack.py) and a database job, which does not need them, ignores."""
    from cchub_desktop.env_vars import EnvError, EnvironmentStore

    try:
        return EnvironmentStore(paths).for_project(data_key)
    except EnvError as exc:
        return ProjectEnvironment(problem=str(exc))


def _environment_for_plan(data_key: str) -> ProjectEnvironment:
    """Names and plain values; secret values are never read for a plan."""
    from cchub_desktop.env_vars import ALL, EnvironmentStore
    from cchub_desktop.paths import app_paths

    store = EnvironmentStore(app_paths())
    merged = {v.key: v for v in store.variables(ALL)}
    merged.update({v.key: v for v in store.variables(data_key)})
    return ProjectEnvironment(tuple((k, v.value) for k, v in sorted(merged.items()) if not v.secret),
                              tuple((k, "<secret>") for k, v in sorted(merged.items()) if v.secret))


@dataclass(frozen=True)
class CommandCenterConfig:
    name: str
    slug: str
    # the project's identity (fixed at creation, never reused): its volumes and secrets are named after it
    data_key: str
    project_path: Path
    backend_port: int
    frontend_port: int
    postgres_port: int
    redis_port: int
    expose_db: bool
    secrets: ProjectSecrets
    source: SourceSettings
    images: ImageSettings
    db_image: DbImageChoice | None = None
    db_volume: str | None = None   # the recorded PostgreSQL data volume (after an upgrade); None: the default
    source_note: str = ""   # a line for the log when Settings → Source differ from the project's pin
    first_build: bool = False   # the project never started before: its builds may take several minutes
    host_copies_dir: Path | None = None   # where the copies of its data go (host_copies.py); None: no copies
    environment: ProjectEnvironment = NO_ENVIRONMENT   # the user's variables (env_vars.py)
    cuda_torch: bool = False    # Settings: the CUDA torch wheel instead of the CPU-only one

    @classmethod
    def from_project(cls, project: StoredProject, settings: AppSettings, paths: AppPaths,
                     secrets: ProjectSecrets | None = None) -> CommandCenterConfig:
        """The config for a stored project, with `secrets` (checked against the store by the caller:
        stack/project_secrets.py), else its secrets file, created on first use (StackError when the secrets
        folder or file is not private)."""
        images, choice = _images_for(project, settings)
        source, note = SourceSettings.for_project(project, settings)
        return cls(
            name=project.name, slug=project.slug, data_key=project.data_key, project_path=Path(project.path),
            backend_port=project.backend_port, frontend_port=project.frontend_port,
            postgres_port=project.postgres_port, redis_port=project.redis_port,
            expose_db=bool(project.expose_db),
            secrets=secrets if secrets is not None else load_or_create(paths.secrets_dir, project.data_key),
            source=source, images=images, db_image=choice, db_volume=project.db_volume, source_note=note,
            first_build=project.last_started_at is None, environment=_environment(paths, project.data_key),
            cuda_torch=settings.cuda_torch,
            host_copies_dir=copies_dir(paths.data_dir, project.data_key),
        )

    @classmethod
    def for_plan(cls, project: StoredProject, settings: AppSettings) -> CommandCenterConfig:
        """The config for showing a plan: no secrets file is read or created (a plan shows secret names,
        never values)."""
        placeholder = ProjectSecrets(db_password="<db_password>", redis_password="<redis_password>",
                                     secret_key="<secret_key>", encryption_salt="<encryption_salt>")
        return cls(
            name=project.name, slug=project.slug, data_key=project.data_key, project_path=Path(project.path),
            backend_port=project.backend_port, frontend_port=project.frontend_port,
            postgres_port=project.postgres_port, redis_port=project.redis_port,
            expose_db=bool(project.expose_db), secrets=placeholder,
            source=SourceSettings.for_project(project, settings)[0], images=_images_for(project, settings)[0],
            db_volume=project.db_volume, environment=_environment_for_plan(project.data_key),
            cuda_torch=settings.cuda_torch,
        )

    def host_ports(self) -> dict[str, int]:
        """role -> host port, for the ports this stack binds (the database ports only when exposed)."""
        ports = {"frontend": self.frontend_port, "backend": self.backend_port}
        if self.expose_db:
            ports.update(postgres=self.postgres_port, redis=self.redis_port)
        return ports

    @property
    def pgdata_volume(self) -> str:
        """The cache volume of this project's PostgreSQL data."""
        return self.db_volume or pgdata_volume(self.data_key)

    @property
    def frontend_url(self) -> str:
        return f"http://localhost:{self.frontend_port}"

    @property
    def backend_url(self) -> str:
        return f"http://localhost:{self.backend_port}"
