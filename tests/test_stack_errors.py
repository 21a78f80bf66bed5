"""Each Dagger SDK error becomes a StackError whose message says what happened and what to do."""

from __future__ import annotations

from typing import Any

import dagger
import gql
import pytest
from dagger._exceptions import QueryErrorValue
from fake_dagger.fixtures import free_ports

from cchub_desktop.stack.errors import StackError, map_error
from tests.helpers import listen_on


def query_error(message: str, **extensions: Any) -> dagger.QueryError:
    return dagger.QueryError([QueryErrorValue(message=message, extensions=extensions)], gql.gql("{ version }"))


def session_error_from(cause: BaseException) -> dagger.SessionError:
    try:
        raise dagger.SessionError(cause) from cause
    except dagger.SessionError as exc:
        return exc


def test_no_cli_at_the_configured_path() -> None:
    error = map_error(session_error_from(FileNotFoundError(2, "No such file or directory", "/opt/dagger/bin/dagger")),
                      "engine", "connecting to the Dagger engine")
    assert "/opt/dagger/bin/dagger was not found" in error.user_message
    assert "Settings" in error.user_message
    assert "FileNotFoundError" in error.detail or "No such file" in error.detail


def test_cli_that_exits_because_docker_is_not_running() -> None:
    exc = dagger.SessionError("Command 'dagger session' returned non-zero exit status 1. Error: failed to run "
                              "container: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    error = map_error(exc, "engine", "connecting to the Dagger engine")
    assert error.user_message.startswith("Docker is not running — start Docker Desktop")
    assert error.step == "engine"


def test_cli_download_impossible() -> None:
    error = map_error(dagger.DownloadError("Failed to download checksums: [Errno -3] name resolution"), "engine")
    assert "could not be downloaded" in error.user_message and "internet" in error.user_message


@pytest.mark.parametrize("exc, words", [
    (dagger.ClientConnectionError("refused"), "Could not connect to the Dagger engine session"),
    (dagger.TransportError("Connection to engine has been closed."), "connection to the Dagger engine was lost"),
    (dagger.ProvisionError("workdir"), "could not be set up"),
])
def test_connection_errors(exc: Exception, words: str) -> None:
    error = map_error(exc, "postgres", "starting PostgreSQL")
    assert words in error.user_message
    assert error.detail.startswith(type(exc).__name__)


def test_exec_error_names_the_step_and_shows_the_end_of_stderr() -> None:
    stderr = "\n".join(f"line {i}" for i in range(40)) + "\nERROR: No matching distribution found for fastapi==9"
    exc = query_error("exit code: 1", _type="EXEC_ERROR", cmd=["pip", "install", "-r", "requirements.txt"],
                      exitCode=1, stdout="", stderr=stderr)
    assert isinstance(exc, dagger.ExecError)
    error = map_error(exc, "backend_build", "building the backend")
    assert error.user_message.startswith("Building the backend failed: `pip install -r requirements.txt` "
                                         "exited with code 1.")
    assert "No matching distribution found for fastapi==9" in error.user_message
    assert "line 0\n" not in error.user_message          # a tail, not the whole output
    assert "line 0\n" in error.detail                    # the whole output is kept for the log


def test_secret_values_are_scrubbed_from_message_and_detail() -> None:
    secret = "pw-abcdefghijklmnop"
    exc = query_error("exit code: 1", _type="EXEC_ERROR", cmd=["sh", "-c", "alembic upgrade head"], exitCode=1,
                      stdout="", stderr=f"could not connect to postgresql://commandcenter:{secret}@postgres/db")
    error = map_error(exc, "backend", "starting the backend", secret_values=[secret])
    assert secret not in error.user_message and secret not in error.detail
    assert "commandcenter:***@postgres" in error.user_message


def test_a_port_taken_at_tunnel_time_names_the_port_and_its_holder() -> None:
    (port,) = free_ports(1)
    with listen_on(port):
        exc = query_error(f"failed to start tunnel: listen tcp 0.0.0.0:{port}: bind: address already in use")
        error = map_error(exc, "tunnels", f"opening host port {port}", port_roles={port: "frontend"})
    assert error.user_message.startswith(f"Port {port} (frontend) is already in use by ")
    assert "(pid " in error.user_message   # this test process holds it, and the OS says so


def test_missing_image_and_unknown_git_ref() -> None:
    image = map_error(query_error('failed to resolve source metadata for docker.io/library/nope:1: not found'),
                      "postgres", "starting PostgreSQL")
    assert "could not be pulled" in image.user_message and "Settings" in image.user_message
    git = map_error(query_error("git error: couldn't find remote ref refs/heads/nope"), "source",
                    "fetching the CommandCenter source")
    assert "source could not be fetched" in git.user_message


def test_stack_errors_pass_through_unchanged() -> None:
    original = StackError("Already clear.", "detail", "ports")
    assert map_error(original, "engine") is original
