"""A small tree in the shape of the upstream CommandCenter repository (written by these tests, not copied):
backend/requirements.txt with an editable `../libs/...` line (as upstream's backend/requirements.txt has
`-e ../libs/knowledgebeast`), backend/alembic.ini, backend/app/main.py, a migration that enables the
`vector` extension (as upstream's backend/alembic/versions/e5bd4ea700b0_enable_pgvector_extension.py),
libs/<name>/pyproject.toml, frontend/package.json with its package-lock.json."""

from __future__ import annotations

from pathlib import Path

LIB = "knowledgebeast"

FILES: dict[str, str] = {
    "backend/requirements.txt": f"fastapi\nalembic\nasyncpg\n-e ../libs/{LIB}  # editable, from libs/\n",
    "backend/alembic.ini": "[alembic]\nscript_location = alembic\n",
    "backend/alembic/env.py": "# migration environment\n",
    "backend/alembic/versions/0001_enable_vector.py":
        "def upgrade():\n    op.execute('CREATE EXTENSION IF NOT EXISTS vector')\n",
    "backend/app/__init__.py": "",
    "backend/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    f"libs/{LIB}/pyproject.toml": f'[project]\nname = "{LIB}"\nversion = "0.1.0"\n',
    "frontend/package.json": '{"name": "frontend", "scripts": {"dev": "vite"}}\n',
    "frontend/package-lock.json": '{"lockfileVersion": 3}\n',
}


def write_commandcenter_tree(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
