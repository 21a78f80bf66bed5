"""What the upstream CommandCenter repository's own files need to run, owned by this app (no Qt).

Each fix is one named constant, with the upstream file and commit it answers, so it stays visible (every one
shows in `cchub plan`) and can be removed once upstream fixes its side. The recipe (stack/recipe.py) reads them.
Verified against upstream commit cc1da242 (stack/source_pin.py VERIFIED_COMMIT).
"""

from __future__ import annotations

# backend/requirements.txt (cc1da242) pins `redis==5.0.1` and `celery==5.3.4` without its `[redis]` extra, so pip
# takes kombu 5.7, which refuses redis-py < 6.1: every `send_task` fails with VersionMismatch. kombu 5.6 and 5.5
# work with redis 5.0.1.
PIP_CONSTRAINTS: tuple[str, ...] = ("kombu<5.7",)
CONSTRAINTS_FILE = "/app/constraints.txt"

# backend/requirements.txt (cc1da242) asks for `litellm>=1.30.0,<1.50.0`. PyPI, as our machines reach it
# (checked 2026-12-05, pypi.org/pypi/litellm/json), lists no litellm between 1.14.4 and 1.53.1.dev1, so that line
# cannot be installed, and a pip constraint cannot widen a requirement. Before the install the build rewrites that
# exact line to the nearest releases there; the backend ran with them (/health, a Celery task, the dashboard:
# docs/upstream-run.md). Any other line, and a litellm line that reads differently (another commit), is kept.
REQUIREMENT_REWRITES: tuple[tuple[str, str], ...] = (("litellm>=1.30.0,<1.50.0", "litellm>=1.53.1,<1.54"),)
REWRITE_FILE = "/app/fix_requirements.py"
REWRITE_SCRIPT = f"""import sys
rewrites = dict({REQUIREMENT_REWRITES!r})
path = sys.argv[1] if len(sys.argv) > 1 else "requirements.txt"
with open(path, encoding="utf-8") as f:
    lines = f.read().split("\\n")
def fixed_line(line):
    requirement, hash_sign, comment = line.partition("#")
    new = rewrites.get(requirement.strip())
    return line if new is None else new + (f"  #{{comment}}" if hash_sign else "")
fixed = [fixed_line(line) for line in lines]
for old, new in zip(lines, fixed):
    if old != new:
        was, now = old.partition("#")[0].strip(), new.partition("#")[0].strip()
        print(f"upstream fix: {{was}} -> {{now}} (that range is not on the package index)", flush=True)
if fixed != lines:
    with open(path, "w", encoding="utf-8") as f:
        f.write("\\n".join(fixed))
"""
REWRITE_STEP: tuple[str, ...] = ("python", REWRITE_FILE)

# backend/app/main.py and app/config.py (cc1da242) connect to NATS at startup, before uvicorn binds, with the
# default nats://localhost:4222 and 60 retries x 2 s: without a NATS server /health first answers after ~2 minutes.
# docker-compose.yml runs nats:2.10-alpine with JetStream and the monitoring port.
NATS_IMAGE = "nats:2.10-alpine"
NATS_PORT = 4222
NATS_MONITOR_PORT = 8222
NATS_ARGS: tuple[str, ...] = ("-js", "-m", str(NATS_MONITOR_PORT))
NATS_URL = f"nats://nats:{NATS_PORT}"

# backend/scripts/startup.sh (cc1da242) waits until the database accepts connections before alembic: after a
# crash recovery the port opens while connections are still refused, and the migrations would fail the start.
# This waits for an accepted connection (not an open port), at most 120 s, with the app's own driver and URL.
DB_WAIT_SECONDS = 120
DB_WAIT_FILE = "/app/wait_for_db.py"
DB_WAIT_SCRIPT = f"""import asyncio, os, sys, time
import asyncpg
url = os.environ["DATABASE_URL"].replace("+asyncpg", "")
deadline = time.monotonic() + {DB_WAIT_SECONDS}
async def main():
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=5)
            await conn.close()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                sys.exit(f"the database did not accept connections within {DB_WAIT_SECONDS} s: {{exc}}")
            print("waiting for the database to accept connections:", exc, flush=True)
            await asyncio.sleep(1)
asyncio.run(main())
"""
DB_WAIT = f"python {DB_WAIT_FILE}"


# The install is ~6.9 GB, 4.4 GB of it CUDA torch, which nothing in a desktop stack uses. The CPU-only wheel
# comes first when its index is reachable; when it is not, the normal wheel comes with requirements.txt. This
# step never fails the build (the `||` fallback), so it is not the step a "pip install" failure names.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU_STEP = (f"pip3 install torch --index-url {TORCH_CPU_INDEX} -c {CONSTRAINTS_FILE}"
                  " || echo 'CPU-only torch not reachable: the normal torch wheel comes with requirements.txt'")

# The embedding model downloads into ~/.cache/huggingface on first use: a cache volume keeps it across restarts.
HF_HOME = "/root/.cache/huggingface"

# docker-compose.yml (cc1da242): celery-worker and celery-beat from the backend build. At cc1da242 beat uses
# RedBeat (backend/app/tasks/__init__.py: the schedule lives in Redis), so beat keeps nothing of its own: its
# schedule file (Celery's default scheduler, unused there) goes to /tmp, as in compose, which gives beat no volume.
CELERY_WORKER: tuple[str, ...] = ("celery", "-A", "app.tasks", "worker", "--loglevel=info", "--concurrency=4")
CELERY_BEAT: tuple[str, ...] = ("celery", "-A", "app.tasks", "beat", "--loglevel=info",
                                "--schedule=/tmp/celerybeat-schedule")

# docker-compose.yml: backend and celery-worker share the rag_storage volume at /app/rag_storage.
RAG_STORAGE = "/app/rag_storage"


def rag_storage_volume(data_key: str) -> str:
    """The cache volume of a project's rag_storage (shared by the backend and the worker)."""
    return f"cchub-{data_key}-rag-storage"


def constraints_text() -> str:
    return "".join(f"{line}\n" for line in PIP_CONSTRAINTS)
