"""Is a CommandCenter source tree in the shape the stack recipe expects? (no Qt, no engine)

Checked on disk for a local checkout (Settings → Source). The shape follows the upstream CommandCenter
repository: backend/requirements.txt (with `-e ../libs/knowledgebeast`, an editable path relative to backend/),
backend/alembic.ini, backend/app/main.py, frontend/package.json with frontend/package-lock.json (the recipe
runs `npm ci`), and migrations that enable PostgreSQL extensions (backend/alembic/versions/
e5bd4ea700b0_enable_pgvector_extension.py enables `vector`), which the database image must provide.

A git source is not checked here: its tree only exists inside the engine (reported as not checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REQUIRED_FILES = (
    ("backend/requirements.txt", "the backend's Python dependencies"),
    ("backend/alembic.ini", "the database migrations' configuration"),
    ("backend/app/main.py", "the backend application (app.main:app)"),
    ("frontend/package.json", "the frontend's package"),
    ("frontend/package-lock.json", "the lockfile `npm ci` installs from"),
)
# Extensions a migration may enable -> what in the image name shows the image provides it.
EXTENSION_IMAGES = {"vector": "pgvector"}
# Extensions every PostgreSQL image ships (contrib).
CONTRIB = {"plpgsql", "pgcrypto", "uuid-ossp", "pg_trgm", "hstore", "citext", "btree_gin", "btree_gist"}
_EXTENSION_RE = re.compile(
    r"""CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?["']?([A-Za-z0-9_-]+)|create_extension\(\s*["']([A-Za-z0-9_-]+)""",
    re.IGNORECASE)


@dataclass(frozen=True)
class SourceProblem:
    what: str
    fix: str

    def line(self) -> str:
        return f"{self.what} — {self.fix}"


@dataclass(frozen=True)
class SourceReport:
    root: Path | None
    problems: tuple[SourceProblem, ...]
    checked: bool = True
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        if not self.checked:
            return [self.note]
        if self.ok:
            return [f"The CommandCenter checkout {self.root} has the expected shape. {self.note}".strip()]
        return [p.line() for p in self.problems]


def editable_paths(requirements: str) -> list[str]:
    """The paths of `-e PATH` / `--editable PATH` lines (URLs such as git+https are not paths)."""
    out = []
    for raw in requirements.splitlines():
        line = raw.split(" #", 1)[0].strip()
        for flag in ("-e ", "--editable ", "--editable="):
            if line.startswith(flag):
                target = line[len(flag):].strip()
                if "://" not in target and not target.startswith("git+"):
                    out.append(target)
    return out


def migration_extensions(versions_dir: Path) -> dict[str, str]:
    """extension -> the first migration file (relative name) that enables it."""
    found: dict[str, str] = {}
    if not versions_dir.is_dir():
        return found
    for path in sorted(versions_dir.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _EXTENSION_RE.finditer(text):
            name = (match.group(1) or match.group(2)).lower()
            found.setdefault(name, path.name)
    return found


def image_provides(image: str, extension: str) -> bool:
    if extension in CONTRIB:
        return True
    marker = EXTENSION_IMAGES.get(extension)
    return marker is not None and marker in image.lower()


def check_local_tree(root: Path, db_image: str) -> SourceReport:
    root = Path(root)
    if not root.is_dir():
        return SourceReport(root, (SourceProblem(f"The CommandCenter checkout {root} does not exist",
                                                 "pick the root of a CommandCenter checkout in Settings → "
                                                 "Source, or clear it to use git"),))
    problems: list[SourceProblem] = []
    for rel, role in REQUIRED_FILES:
        if not (root / rel).is_file():
            fix = ("run `npm install` in frontend/ and commit the package-lock.json it writes"
                   if rel.endswith("package-lock.json") else
                   "pick the root of a CommandCenter checkout (the folder with backend/ and frontend/)")
            problems.append(SourceProblem(f"{rel} is missing in {root} ({role})", fix))
    requirements = root / "backend" / "requirements.txt"
    if requirements.is_file():
        for target in editable_paths(requirements.read_text(encoding="utf-8", errors="replace")):
            resolved = (root / "backend" / target).resolve()
            inside = PurePosixPath(*Path(target).parts)
            if not resolved.is_dir():
                problems.append(SourceProblem(
                    f"backend/requirements.txt installs `-e {target}`, but {resolved} does not exist",
                    "use a full checkout of the repository (the editable path is relative to backend/), "
                    "e.g. a clone rather than a copy of backend/ and frontend/ alone"))
            elif not ((resolved / "pyproject.toml").is_file() or (resolved / "setup.py").is_file()):
                problems.append(SourceProblem(
                    f"backend/requirements.txt installs `-e {inside}`, but {resolved} has no pyproject.toml "
                    "or setup.py", "restore that library's folder from the repository"))
            elif root.resolve() not in resolved.parents:
                problems.append(SourceProblem(
                    f"backend/requirements.txt installs `-e {target}`, which is outside the checkout {root}",
                    "only the checkout is copied into the build: move the library inside it"))
    for extension, migration in migration_extensions(root / "backend" / "alembic" / "versions").items():
        if not image_provides(db_image, extension):
            marker = EXTENSION_IMAGES.get(extension)
            fix = (f"set the PostgreSQL image in Settings to one with {marker}, e.g. pgvector/pgvector:pg16"
                   if marker else "set the PostgreSQL image in Settings to one that ships this extension")
            fix += (" (a project whose database already exists keeps the image that created it: move it to the "
                    "new image with 'cchub upgrade-db NAME' or Upgrade database… in the window)")
            problems.append(SourceProblem(
                f"the migration {migration} enables the PostgreSQL extension '{extension}', which the image "
                f"{db_image} does not provide", fix))
    return SourceReport(root, tuple(problems))


def check_source(local_dir: Path | None, git_url: str, git_ref: str, db_image: str) -> SourceReport:
    if local_dir is None:
        return SourceReport(None, (), checked=False,
                            note=f"Source git {git_url} @ {git_ref}: not checked before the engine fetches it "
                                 "(the start fails at the build step if its shape is wrong).")
    return check_local_tree(local_dir, db_image)
