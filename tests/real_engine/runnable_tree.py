"""A small CommandCenter-shaped tree that really runs under the recipe's own commands (written by the tests):
a FastAPI backend with /health and a notes table (alembic migration that enables `vector`, as upstream's), a
`-e ../libs/<lib>` requirement, a Celery app (`app.tasks`: a task the backend sends to the worker, and a beat
schedule that counts its ticks in Redis) on the broker URL the recipe passes, an endpoint that reads the NATS
server's greeting, and a frontend whose `npm ci` + `npx vite` serve one static page. The real-engine
lane starts it; `write_runnable_tree` is also how the procedure in docs/real-engine.md makes its test project."""

from __future__ import annotations

import json
from pathlib import Path

LIB = "knowledgebeast"

ENV_PY = '''\
import os

from alembic import context
from sqlalchemy import create_engine, pool

url = os.environ["DATABASE_URL"].replace("+asyncpg", "+psycopg2")


def run() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run()
'''

MIGRATION = '''\
"""enable pgvector and make the notes table"""
from alembic import op

revision = "0001_enable_vector"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE notes")
'''

TASKS_PY = '''\
import os

import redis
from celery import Celery

app = Celery("commandcenter", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_RESULT_BACKEND"])
app.conf.beat_schedule = {"tick": {"task": "app.tasks.tick", "schedule": 2.0}}
TICKS = "cchub-lane:beat-ticks"


@app.task(name="app.tasks.echo")
def echo(text: str) -> str:
    return f"worker says {text}"


@app.task(name="app.tasks.tick")
def tick() -> int:
    return int(redis.Redis.from_url(os.environ["REDIS_URL"]).incr(TICKS))
'''

MAIN_PY = '''\
import asyncio
import json
import os
from urllib.parse import urlparse

import asyncpg
import redis
from fastapi import FastAPI
from knowledgebeast import NAME

app = FastAPI(title=NAME)


def _dsn() -> str:
    return os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "healthy"}


@app.post("/notes")
async def add_note(body: str) -> dict[str, int]:
    conn = await asyncpg.connect(_dsn())
    try:
        note_id = await conn.fetchval("INSERT INTO notes (body) VALUES ($1) RETURNING id", body)
    finally:
        await conn.close()
    return {"id": int(note_id)}


@app.get("/notes")
async def list_notes() -> list[str]:
    conn = await asyncpg.connect(_dsn())
    try:
        rows = await conn.fetch("SELECT body FROM notes ORDER BY id")
    finally:
        await conn.close()
    return [str(r["body"]) for r in rows]


@app.get("/nats")
async def nats_greeting() -> dict[str, str]:
    url = urlparse(os.environ["NATS_URL"])
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    info = json.loads(line.decode().removeprefix("INFO ").strip())
    return {"version": str(info["version"]), "jetstream": str(bool(info.get("jetstream")))}


@app.post("/tasks/echo")
def send_echo(text: str) -> dict[str, str]:
    from app.tasks import echo

    return {"result": str(echo.delay(text).get(timeout=60))}


@app.get("/tasks/ticks")
def beat_ticks() -> dict[str, int]:
    from app.tasks import TICKS

    return {"ticks": int(redis.Redis.from_url(os.environ["REDIS_URL"]).get(TICKS) or 0)}
'''

PACKAGE_JSON = {"name": "frontend", "private": True, "version": "0.0.0", "type": "module",
                "scripts": {"dev": "vite"}, "devDependencies": {"vite": "5.4.11"}}

FILES: dict[str, str] = {
    "backend/requirements.txt": ("fastapi==0.115.6\nuvicorn==0.32.1\nalembic==1.14.0\nasyncpg==0.30.0\n"
                                 "psycopg2-binary==2.9.10\nsqlalchemy==2.0.36\ncelery==5.4.0\nredis==5.2.1\n"
                                 f"-e ../libs/{LIB}\n"),
    "backend/alembic.ini": "[alembic]\nscript_location = alembic\n",
    "backend/alembic/env.py": ENV_PY,
    "backend/alembic/versions/0001_enable_vector.py": MIGRATION,
    "backend/app/__init__.py": "",
    "backend/app/main.py": MAIN_PY,
    "backend/app/tasks.py": TASKS_PY,
    f"libs/{LIB}/pyproject.toml": (f'[project]\nname = "{LIB}"\nversion = "0.1.0"\n\n'
                                    '[build-system]\nrequires = ["setuptools>=61"]\n'
                                    'build-backend = "setuptools.build_meta"\n'),
    f"libs/{LIB}/{LIB}/__init__.py": 'NAME = "knowledgebeast (stand-in)"\n',
    "frontend/package.json": json.dumps(PACKAGE_JSON, indent=2) + "\n",
    "frontend/index.html": "<!doctype html><title>CommandCenter</title><h1>CommandCenter frontend</h1>\n",
}


def write_runnable_tree(root: Path, lockfile: str) -> Path:
    """Write the tree under `root`; `lockfile` is frontend/package-lock.json's text (made once by
    `npm install --package-lock-only` for PACKAGE_JSON, see docs/real-engine.md)."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "frontend" / "package-lock.json").write_text(lockfile, encoding="utf-8")
    return root
