"""Security: private secrets files (checked at every start), secret values nowhere else, Redis always behind a
password, and the database ports reachable from the host only when the project asks for it."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import ports
from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus
from tests import tray_fixtures
from tests.helpers import key_of
from tests.test_reliability_faults import Hub, run
from tests.tray_fixtures import Desktop

desktop, qt_async = tray_fixtures.desktop, tray_fixtures.qt_async
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes are POSIX")
S = ProjectStatus

KNOWN = {"db_password": "KnownDbPassw0rd-7fa1c9e2", "redis_password": "KnownRedisPassw0rd-b44d",
         "secret_key": "KnownSecretKey-2b7e151628aed2a6abf71588"}


def write_known_secrets(slug: str) -> Path:
    """The project's secrets file, with values the test knows (as the app would have generated them)."""
    folder = app_paths().secrets_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = secrets_file(folder, slug)
    path.write_text(json.dumps({"version": 1, **KNOWN}))
    path.chmod(0o600)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def hub(fake_dagger_env: FakeDagger, project_dir: Path) -> Hub:
    h = Hub(fake_dagger_env, project_dir)
    yield h  # type: ignore[misc]
    run(h.orch.aclose())
    h.store.close()


# ----- private files, checked at start -------------------------------------------------------------------

@posix_only
def test_the_first_start_creates_the_secrets_private(hub: Hub) -> None:
    pid = hub.add("alpha")
    run(hub.orch.start(pid))
    assert hub.orch.state(pid) == S.RUNNING
    secrets = app_paths().secrets_dir
    assert mode(secrets) == 0o700 and mode(secrets_file(secrets, key_of("alpha"))) == 0o600


@posix_only
@pytest.mark.parametrize("target, loosened, fix", [("file", 0o644, "chmod 600"), ("folder", 0o755, "chmod 700")])
def test_loosened_secrets_are_refused_at_start_with_the_fix(hub: Hub, target: str, loosened: int, fix: str) -> None:
    pid = hub.add("alpha")
    run(hub.orch.start(pid))
    run(hub.orch.stop(pid))
    path = secrets_file(app_paths().secrets_dir, key_of("alpha"))
    loose = path if target == "file" else path.parent
    loose.chmod(loosened)
    app_paths().ensure()        # what every launch of the app and of `cchub` does first
    sessions = len(hub.fake.journal.sessions())
    run(hub.orch.start(pid))
    message = hub.orch.message(pid) or ""
    assert hub.orch.state(pid) == S.ERROR
    assert f"The secrets {target} {loose} can be read by other users (mode {loosened:o})" in message
    assert f"{fix} '{loose}'" in message
    assert len(hub.fake.journal.sessions()) == sessions     # refused before any engine session
    assert mode(loose) == loosened                           # the app does not hide what happened


# ----- secret values appear nowhere else --------------------------------------------------------------------

def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, value in KNOWN.items() if value.encode() in data]


def everything_on_disk() -> dict[str, bytes]:
    """Every file the app wrote except the secrets files themselves: database, logs, settings, backups."""
    paths = app_paths()
    roots = [paths.data_dir, paths.logs_dir, paths.settings_file.parent, paths.runtime_dir]
    found: dict[str, bytes] = {}
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else []:
            if path.is_file() and paths.secrets_dir not in path.parents:
                found[str(path)] = path.read_bytes()
    return found


@pytest.mark.parametrize("expose_db", [False, True])
def test_no_secret_value_leaks_after_a_full_cycle_with_a_failure(
        desktop: Desktop, capsys: pytest.CaptureFixture[str], expose_db: bool) -> None:
    good = desktop.add_project("good")
    desktop.store.update(good, expose_db=expose_db)
    bad = desktop.add_project("bad")
    for name in ("good", "bad"):
        write_known_secrets(key_of(name))

    desktop.click("good — Stopped", "Start")
    desktop.wait_status(good, S.RUNNING)
    # the backend's migrations fail and quote the database URL, password and all, as drivers do
    url = f"postgresql+asyncpg://commandcenter:{KNOWN['db_password']}@postgres:5432/commandcenter"
    desktop.fake.set(exec_fail=f"alembic upgrade:1:sqlalchemy: could not connect to {url} "
                               f"(redis {KNOWN['redis_password']}, key {KNOWN['secret_key']})")
    desktop.click("bad — Stopped", "Start")
    desktop.wait_status(bad, S.ERROR)
    desktop.click("good — Running", "Stop")
    desktop.wait_status(good, S.STOPPED)

    message = desktop.controller.orchestrator.message(bad) or ""
    assert "could not connect to *** (redis ***, key ***)" in message   # the whole URL is a secret value
    shown = [message, desktop.store.get(bad).last_error or ""]
    box = desktop.window.error_box
    assert box is not None
    shown += [box.text(), box.informativeText(), box.detailedText()]
    shown += [f"{title}\n{text}" for title, text, *_ in desktop.messages]            # notifications
    shown += [desktop.tray.tooltip(), *desktop.menu_texts()]
    shown += [a.toolTip() for a in desktop.submenu("bad — Failed").menuAction().menu().actions()]  # type: ignore[union-attr]
    shown += [desktop.controller.orchestrator.log(pid).text() for pid in (good, bad)]  # the log pane's source
    assert not [(text, leaks(text)) for text in shown if leaks(text)]
    assert not {name: leaks(data) for name, data in everything_on_disk().items() if leaks(data)}

    # what the client sent the engine other than the secrets themselves (env values, arguments, ...); not the
    # sessions' records (they list the fault knob above) nor the engine's errors (the fault quotes them)
    sent = [r for r in desktop.fake.journal.records() if r["kind"] in ("call", "service", "exec", "upload", "tunnel")]
    assert sent and not leaks(json.dumps(sent))
    for args in (["plan", "good"], ["plan", "good", "--json"], ["list", "--json"]):
        assert cchub(args) == 0
        assert not leaks(capsys.readouterr().out)


# ----- Redis always has a password; database ports reach the host only when exposed ---------------------

@pytest.mark.parametrize("expose_db", [False, True])
def test_redis_requires_its_password_and_db_ports_are_tunnelled_only_when_exposed(
        hub: Hub, expose_db: bool) -> None:
    pid = hub.add("alpha")
    hub.store.update(pid, expose_db=expose_db)
    write_known_secrets(key_of("alpha"))
    block: FreePortBlock = hub.blocks[pid]

    async def scenario() -> dict[str, bool]:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == S.RUNNING, hub.orch.message(pid)
        return {role: not ports.is_port_free(port) for role, port in block.as_dict().items()}

    listening: dict[str, bool] = {}

    async def go() -> None:
        listening.update(await scenario())
        await hub.orch.stop(pid)

    run(go())
    assert listening == {"frontend": True, "backend": True, "postgres": expose_db, "redis": expose_db}
    forwarded = sorted(p["frontend"] for t in hub.fake.journal.tunnels("listen") for p in t["ports"])
    wanted = [block.frontend, block.backend] + ([block.postgres, block.redis] if expose_db else [])
    assert forwarded == sorted(wanted)
    assert all(t["host"] == "0.0.0.0" for t in hub.fake.journal.tunnels("listen"))   # all interfaces

    (redis,) = [r for r in hub.fake.journal.services("start") if str(r["image"]).startswith("redis")]
    assert redis["secret_env"] == {"REDIS_PASSWORD": f"cchub-{key_of('alpha')}-redis-password"}
    assert "requirepass" in " ".join(redis["command"]) and "$REDIS_PASSWORD" in " ".join(redis["command"])
    (backend,) = [r for r in hub.fake.journal.services("start") if r["service_kind"] == "uvicorn"]
    # every credential upstream's .env.docker gives the backend, and only as secrets
    assert set(backend["secret_env"]) == {"DATABASE_URL", "POSTGRES_PASSWORD", "REDIS_URL", "CELERY_BROKER_URL",
                                          "CELERY_RESULT_BACKEND", "SECRET_KEY", "ENCRYPTION_SALT"}
    assert not leaks(hub.fake.journal.all_text())
    assert not {k: v for k, v in backend["env"].items() if leaks(str(v))}

