"""Each fault and timing knob of the fake engine produces what the real SDK raises for that failure."""
# ruff: noqa: F811  (the fixture is imported here and then requested by name)

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import anyio
import dagger
import pytest

from .fixtures import FakeDagger, fake_dagger_env, free_ports, port_is_free  # noqa: F401
from .sdk_helpers import LogCapture, eventually, http_get, run
from .sdk_helpers import sdk_config as config

SECRET = "token-s3cret-Value-7"


def test_exec_fail_raises_exec_error_with_exit_code_and_stderr(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(exec_fail="alembic upgrade:2:ERROR: relation \"users\" already exists")

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            ctr = client.container().from_("python:3.11-slim").with_exec(["alembic", "upgrade", "head"])
            with pytest.raises(dagger.ExecError) as err:
                await ctr.sync()
            assert err.value.exit_code == 2
            assert err.value.command == ["alembic", "upgrade", "head"]
            assert err.value.stderr == 'ERROR: relation "users" already exists'
            assert err.value.stdout == ""
            # other commands still succeed
            assert await client.container().from_("alpine").with_exec(["echo", "ok"]).stdout() == "ok\n"

    run(body)
    assert fake_dagger_env.journal.errors()[0]["exec_error"] is True


def test_a_service_whose_command_fails_does_not_start(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(exec_fail="uvicorn:1:ModuleNotFoundError: No module named 'app'")

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            api = client.container().from_("python:3.11-slim").with_exposed_port(8000).as_service(
                args=["uvicorn", "app.main:app"])
            with pytest.raises(dagger.ExecError) as err:
                await api.start()
            assert "No module named 'app'" in err.value.stderr

    run(body)
    journal = fake_dagger_env.journal
    assert journal.services("start-failed") and not journal.services("start")


def test_missing_image_fails_like_a_pull_error(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(image_missing="postgres:99-nope")

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            with pytest.raises(dagger.QueryError) as err:
                await client.container().from_("postgres:99-nope").with_exposed_port(5432).as_service().start()
            assert "pull access denied" in str(err.value) and "not found" in str(err.value)

    run(body)


def wait_for_log(log: LogCapture, text: str, timeout: float = 5.0) -> str:
    """The captured log once `text` is in it (the SDK forwards the CLI's stderr from a thread), or at the
    deadline, for the caller's assertion to report."""
    deadline = time.monotonic() + timeout
    while text not in log.text() and time.monotonic() < deadline:
        time.sleep(0.02)
    return log.text()


def test_engine_that_cannot_start_fails_the_connection(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(exit_at_start=1)
    log = LogCapture()

    async def body() -> None:
        with pytest.raises(dagger.SessionError):
            async with dagger.Connection(config(log)):
                pass

    run(body)
    # The SDK's message varies ("No connection params" or the exit status); the reason reaches the log.
    assert "Is the docker daemon running?" in wait_for_log(log, "Is the docker daemon running?")
    assert fake_dagger_env.journal.sessions() == []  # it never served a session


def test_malformed_knob_fails_fast_naming_the_variable(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(start_delay="soon")
    log = LogCapture()

    async def body() -> None:
        with pytest.raises(dagger.SessionError):
            async with dagger.Connection(config(log)):
                pass

    run(body)
    assert "FAKE_DAGGER_START_DELAY='soon'" in wait_for_log(log, "FAKE_DAGGER_START_DELAY")


def test_engine_crash_after_start_fails_calls_and_the_close(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(die_after=0.3)
    journal = fake_dagger_env.journal

    async def body() -> None:
        with pytest.raises(dagger.SessionError):
            async with dagger.Connection(config()) as client:
                await eventually(lambda: any(s.crashed for s in journal.sessions()), what="crash")
                journal.wait_sessions_exited()
                with pytest.raises(dagger.TransportError):
                    await client.version()

    run(body)
    (session,) = journal.sessions()
    assert session.crashed and not session.ended_cleanly


def test_engine_dying_mid_start_releases_the_tunnel_ports(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(die_on="Service.start:2")
    (port,) = free_ports(1)

    async def body() -> None:
        with pytest.raises(dagger.SessionError):
            async with dagger.Connection(config()) as client:
                web = client.container().from_("node:18-alpine").with_exposed_port(3000).as_service()
                await client.host().tunnel(web, ports=[dagger.PortForward(backend=3000, frontend=port)]).start()
                assert not port_is_free(port)
                api = client.container().from_("python:3.11-slim").with_exposed_port(8000).as_service()
                with pytest.raises(dagger.TransportError):
                    await api.start()

    run(body)
    fake_dagger_env.journal.wait_sessions_exited()
    assert port_is_free(port)


def test_quitting_during_a_slow_start_ends_the_session_at_once(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(start_delay=60)
    log = LogCapture()
    journal = fake_dagger_env.journal
    timings: dict[str, float] = {}

    async def body() -> None:
        async with dagger.Connection(config(log)) as client:
            db = client.container().from_("postgres:15-alpine").with_exposed_port(5432).as_service(
                use_entrypoint=True)
            async with anyio.create_task_group() as tg:
                tg.start_soon(db.start)
                await eventually(lambda: "start docker-entrypoint.sh postgres" in log.text(), what="start begun")
                tg.cancel_scope.cancel()
            timings["closing"] = time.monotonic()
        timings["closed"] = time.monotonic()

    run(body)
    assert timings["closed"] - timings["closing"] < 10  # not held by the 60-second start
    journal.wait_sessions_exited()
    assert journal.services("start-cancelled") and not journal.services("start")
    assert journal.sessions()[0].ended_cleanly


def test_quitting_during_a_slow_build_step_ends_the_session_at_once(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(exec_delay=60)
    log = LogCapture()
    timings: dict[str, float] = {}

    async def body() -> None:
        async with dagger.Connection(config(log)) as client:
            build = client.container().from_("node:18-alpine").with_exec(["npm", "ci"])
            async with anyio.create_task_group() as tg:
                tg.start_soon(build.sync)
                await eventually(lambda: "exec npm ci" in log.text(), what="build step begun")
                tg.cancel_scope.cancel()
            timings["closing"] = time.monotonic()
        timings["closed"] = time.monotonic()

    run(body)
    assert timings["closed"] - timings["closing"] < 10  # not held by the 60-second step
    assert fake_dagger_env.journal.execs() == []  # the step never completed


def test_a_slow_engine_start_delays_the_connection(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(session_delay=1.0)
    timings: dict[str, float] = {}

    async def body() -> None:
        timings["start"] = time.monotonic()
        async with dagger.Connection(config()) as client:
            timings["connected"] = time.monotonic()
            assert await client.version() == "v0.21.11"

    run(body)
    assert timings["connected"] - timings["start"] >= 1.0


def test_git_failure_and_unhealthy_backend_knobs(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(git_fail=1, health_status=503)
    (port,) = free_ports(1)

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            with pytest.raises(dagger.QueryError) as err:
                await client.git("https://example.invalid/repo").branch("main").tree().entries()
            assert "failed to fetch remote" in str(err.value)
            api = client.container().from_("python:3.11-slim").with_exposed_port(8000).as_service()
            tunnel = await client.host().tunnel(api, ports=[dagger.PortForward(backend=8000, frontend=port)]).start()
            assert http_get(port, "/health") == (503, b'{"status": "unhealthy"}')
            await tunnel.stop()

    run(body)


def test_exec_hook_replaces_command_outcomes(fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(textwrap.dedent("""
        from fake_dagger.execs import ExecResult

        def fake_exec(ctx):
            if ctx.command[:1] == ["python"]:
                return ExecResult(0, f"image={ctx.image} workdir={ctx.workdir} secrets={ctx.secret_env}\\n")
            return None
    """))
    fake_dagger_env.set(exec_hook=str(hook))

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            ctr = (client.container().from_("python:3.11-slim").with_workdir("/app")
                   .with_secret_variable("TOKEN", client.set_secret("token", SECRET)))
            assert await ctr.with_exec(["python", "-V"]).stdout() == "image=python:3.11-slim workdir=/app " \
                "secrets=['TOKEN']\n"
            assert await ctr.with_exec(["echo", "default"]).stdout() == "default\n"

    run(body)


def test_a_missing_host_folder_fails_at_once(fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    async def body() -> None:
        async with dagger.Connection(config()) as client:
            with pytest.raises(dagger.QueryError) as err:
                await client.host().directory(str(tmp_path / "gone")).entries()
            assert "no such file or directory" in str(err.value)

    run(body)
