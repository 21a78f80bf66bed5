"""Failures a user can hit while a stack starts or runs: each gives a message saying what happened and
what to do, and leaves nothing running (services stopped, tunnels closed, session process gone)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop import ports
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack, StackError, StackLog, StackPhase
from cchub_desktop.stack.errors import NO_RUNTIME
from tests.helpers import listen_on
from tests.test_stack import make_config


def start_expecting_error(config: CommandCenterConfig, settings: AppSettings | None = None,
                          **kwargs: object) -> StackError:
    stack = CommandCenterStack(config, settings or AppSettings(), StackLog(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(StackError) as info:
        asyncio.run(stack.start())
    return info.value


def assert_nothing_left(fake: FakeDagger, block: FreePortBlock) -> None:
    fake.sessions_exited()
    assert fake.journal.running_services() == [] and fake.journal.open_tunnels() == []
    assert all(ports.is_port_free(p) for p in block.as_dict().values())


def test_a_cli_path_that_does_not_exist(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                        project_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such" / "dagger"
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(missing))
    error = start_expecting_error(make_config(project_dir, port_block))
    assert f"The Dagger CLI at {missing} was not found" in error.user_message
    assert "Settings" in error.user_message
    assert fake_dagger_env.journal.sessions() == []


def test_no_cli_and_no_network(fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_CLI_BIN")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))   # no CLI downloaded before
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))               # no dagger installed
    with socket.socket() as closed:                                        # a proxy that refuses: no network
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    error = start_expecting_error(make_config(project_dir, port_block))
    assert "not installed and could not be downloaded" in error.user_message
    assert "internet" in error.user_message and "Settings" in error.user_message
    assert not list((tmp_path / "empty-cache").rglob("dagger-*"))


def test_a_cli_that_exits_at_once_because_docker_is_not_running(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(exit_at_start=1)
    error = start_expecting_error(make_config(project_dir, port_block))
    assert error.user_message.startswith(NO_RUNTIME)
    assert "Cannot connect to the Docker daemon" in error.detail
    assert_nothing_left(fake_dagger_env, port_block)


def test_pip_install_failing_names_the_step_and_shows_stderr(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(exec_fail="pip install:1:Collecting fastapi==99\\nERROR: No matching distribution "
                                  "found for fastapi==99")
    error = start_expecting_error(make_config(project_dir, port_block))
    assert error.step == StackPhase.BACKEND_BUILD.value
    assert error.user_message.startswith("Building the backend failed: `pip install -r requirements.txt "
                                         "-c /app/constraints.txt` "
                                         "exited with code 1.")
    assert "ERROR: No matching distribution found for fastapi==99" in error.user_message
    assert_nothing_left(fake_dagger_env, port_block)
    assert fake_dagger_env.journal.sessions()[0].ended_cleanly


NO_MATCH = "ERROR: No matching distribution found for fastapi==99"


def failed_build_log(fake: FakeDagger, config: CommandCenterConfig, log_file: Path, *,
                     quiet_execs: bool = False) -> str:
    """The log file after a start whose pip install failed; the pane shows the same lines (its StackLog)."""
    fake.set(exec_fail=f"pip install:1:Collecting fastapi==99\\n{NO_MATCH}", quiet_execs=1 if quiet_execs else None)
    log = StackLog(log_file)
    stack = CommandCenterStack(config, AppSettings(), log)
    with pytest.raises(StackError):
        asyncio.run(stack.start())
    log.close()
    assert log.text().count(NO_MATCH) == 1
    return log_file.read_text()


def test_a_failed_build_s_output_is_in_the_log_once_when_the_engine_streamed_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    text = failed_build_log(fake_dagger_env, make_config(project_dir, port_block), tmp_path / "p.log")
    assert text.count(NO_MATCH) == 1
    assert "exit code: 1 (its output is above)" in text
    assert text.index(NO_MATCH) < text.index("(its output is above)")


def test_a_failed_build_s_output_is_in_the_log_when_the_engine_did_not_stream_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    text = failed_build_log(fake_dagger_env, make_config(project_dir, port_block), tmp_path / "p.log",
                            quiet_execs=True)
    assert "its output is above" not in text
    assert "Collecting fastapi==99" in text and text.count(NO_MATCH) == 1
    assert_nothing_left(fake_dagger_env, port_block)


def test_a_port_taken_between_the_check_and_the_tunnel(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    held: list[socket.socket] = []

    def take_the_port(phase: StackPhase) -> None:
        if phase == StackPhase.TUNNELS:   # the port check passed long ago; another program grabs the port
            held.append(listen_on(config.frontend_port, "0.0.0.0"))

    try:
        error = start_expecting_error(config, on_phase=take_the_port)
        assert error.user_message.startswith(f"Port {config.frontend_port} (frontend) is already in use by ")
        assert "(pid " in error.user_message
        assert fake_dagger_env.journal.tunnels("listen-failed")
    finally:
        for sock in held:
            sock.close()
    assert_nothing_left(fake_dagger_env, port_block)


def test_a_port_taken_before_start_is_refused_before_any_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    with listen_on(config.backend_port):
        error = start_expecting_error(config)
    assert error.user_message.startswith(f"Port {config.backend_port} (backend) is already in use")
    assert fake_dagger_env.journal.sessions() == []


def test_a_missing_image(fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(image_missing="redis:7-alpine")
    error = start_expecting_error(make_config(project_dir, port_block))
    assert "could not be pulled" in error.user_message and "redis:7-alpine" in error.user_message
    assert_nothing_left(fake_dagger_env, port_block)


def test_an_unreachable_git_source(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                   project_dir: Path) -> None:
    fake_dagger_env.set(git_fail=1)
    error = start_expecting_error(make_config(project_dir, port_block))
    assert error.step == "source" and "source could not be fetched" in error.user_message
    assert_nothing_left(fake_dagger_env, port_block)


def test_an_unhealthy_backend_stops_the_stack(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                              project_dir: Path) -> None:
    fake_dagger_env.set(health_status=503)
    config = make_config(project_dir, port_block)
    error = start_expecting_error(config, health_timeout=1.0)
    assert error.user_message.startswith(f"The backend answered HTTP 503 at http://localhost:"
                                         f"{config.backend_port}/health")
    assert_nothing_left(fake_dagger_env, port_block)


def test_the_engine_dying_mid_start(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                    project_dir: Path) -> None:
    fake_dagger_env.set(die_on="Service.start:2")
    error = start_expecting_error(make_config(project_dir, port_block))
    assert "connection to the Dagger engine was lost while starting" in error.user_message
    assert_nothing_left(fake_dagger_env, port_block)


def test_a_missing_project_folder_is_reported_before_any_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    project_dir.rename(project_dir.with_name("moved"))
    error = start_expecting_error(config)
    assert f"The project folder {project_dir} does not exist any more" in error.user_message
    assert fake_dagger_env.journal.sessions() == []


def test_stopping_while_a_service_starts_cancels_it_and_leaves_nothing(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=30)
    config = make_config(project_dir, port_block)

    async def scenario() -> None:
        reached = asyncio.Event()
        stack = CommandCenterStack(config, AppSettings(), StackLog(),
                                   on_phase=lambda p: reached.set() if p == StackPhase.POSTGRES else None)
        start = asyncio.ensure_future(stack.start())
        await asyncio.wait_for(reached.wait(), 20)
        start.cancel()
        with pytest.raises(asyncio.CancelledError):
            await start
        await asyncio.wait_for(stack.stop(), 10)   # idempotent after the cancelled start cleaned up

    asyncio.run(asyncio.wait_for(scenario(), 25))
    assert_nothing_left(fake_dagger_env, port_block)


def test_a_session_that_dies_while_running_ends_wait_closed(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    # the 1st version query is the SDK's own check at connect; the 3rd is our 2nd heartbeat
    fake_dagger_env.set(die_on="Query.version:3")
    config = make_config(project_dir, port_block)
    log = StackLog()

    async def scenario() -> CommandCenterStack:
        stack = CommandCenterStack(config, AppSettings(), log, heartbeat_interval=0.2)
        await stack.start()
        await asyncio.wait_for(stack.wait_closed(), 15)
        await stack.stop()
        return stack

    stack = asyncio.run(scenario())
    assert stack.closed_reason is not None and "Dagger engine" in stack.closed_reason
    assert not stack.running
    assert "the Dagger session ended" in log.text("hub")
    assert fake_dagger_env.journal.sessions()[0].crashed
    assert_nothing_left(fake_dagger_env, port_block)
