"""`cchub doctor` / run_doctor(): which Dagger CLI will be used, whether an engine can run, never hanging."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from fake_dagger import cli_path

from cchub_desktop import engine_check
from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import doctor as doctor_module
from cchub_desktop.stack import run_doctor, run_doctor_sync
from cchub_desktop.stack.engine_env import sdk_cache_binary, sdk_cli_version
from cchub_desktop.stack.runtime_advice import install_advice, no_runtime_message, start_advice
from tests.helpers import listen_on

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses sh scripts as stand-in runtimes")


def script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with nothing on it but what the test puts there, no cached CLI, no network."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_CLI_BIN", raising=False)
    monkeypatch.delenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", raising=False)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return bin_dir


def docker_running(bin_dir: Path) -> None:
    script(bin_dir, "docker", 'echo "Server Version: 27.0.1"; exit 0')


def test_ready_with_a_cli_and_a_running_docker(machine: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    docker_running(machine)
    report = run_doctor_sync(AppSettings())
    assert report.ready and report.runtime == "docker"
    assert report.cli.origin == "environment" and report.cli.path == str(cli_path())
    assert report.summary().startswith("Engine ready")
    assert cchub(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Ready to start stacks." in out and "docker is running" in out


def test_a_cli_path_in_settings_that_does_not_exist(machine: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    docker_running(machine)
    missing = tmp_path / "opt" / "dagger"
    report = run_doctor_sync(AppSettings(dagger_cli_path=str(missing)))
    assert not report.ready
    (problem,) = report.problems()
    assert problem.message == f"The Dagger CLI {missing} does not exist."
    assert "Settings → Engine" in problem.fix
    AppSettings(dagger_cli_path=str(missing)).save(app_paths().settings_file)
    assert cchub(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL Dagger CLI: The Dagger CLI {missing} does not exist." in out and "fix: " in out


def test_docker_installed_but_not_running(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    script(machine, "docker", 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1')
    report = run_doctor_sync(AppSettings())
    (problem,) = report.warnings()
    assert problem.message.startswith("Docker is not running (docker: Cannot connect to the Docker daemon")
    assert problem.fix.startswith(start_advice("docker"))


def test_a_cli_set_explicitly_makes_a_stopped_runtime_a_warning_not_a_block(
        machine: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`cchub up` runs with a Dagger CLI set in the environment and no Docker daemon, so the engine verdict
    the window uses must let the start go ahead: a warning, and `cchub doctor` exits 0."""
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    script(machine, "docker", 'echo "Cannot connect to the Docker daemon." >&2; exit 1')
    report = run_doctor_sync(AppSettings())
    assert report.ready and report.problems() == []
    (warning,) = report.warnings()
    assert "Starts still go ahead with the Dagger CLI from $_EXPERIMENTAL_DAGGER_CLI_BIN" in warning.fix
    assert cchub(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "warn Container runtime: Docker is not running" in out and "Ready to start stacks." in out


def test_without_an_explicit_cli_a_stopped_runtime_still_blocks(machine: Path) -> None:
    script(machine, "dagger", f'[ "$1" = version ] && echo "dagger v{sdk_cli_version()} linux/amd64"')
    script(machine, "docker", "exit 1")
    report = run_doctor_sync(AppSettings())
    assert not report.ready
    assert [c.name for c in report.problems()] == ["Container runtime"]


@pytest.mark.parametrize(("system", "start", "install"), [
    ("Linux", "Start the Docker service (`sudo systemctl start docker`)", "Install Docker Engine (or Podman)"),
    ("Darwin", "Start Docker Desktop", "Install Docker Desktop"),
    ("Windows", "Start Docker Desktop", "Install Docker Desktop"),
])
def test_runtime_advice_fits_the_platform(system: str, start: str, install: str) -> None:
    assert start_advice("docker", system).startswith(start)
    assert install_advice(system).startswith(install)
    assert ("Docker Desktop" in no_runtime_message(system)) == (system != "Linux")


def test_podman_answers_when_docker_does_not(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    script(machine, "docker", "exit 1")
    script(machine, "podman", "exit 0")
    report = run_doctor_sync(AppSettings())
    assert report.ready and report.runtime == "podman"


def test_no_container_runtime_at_all(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    (problem,) = run_doctor_sync(AppSettings()).warnings()
    assert problem.message.startswith("No container runtime found")
    assert install_advice() in problem.fix


def test_a_hung_runtime_cannot_hang_the_doctor(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    monkeypatch.setattr(doctor_module, "COMMAND_TIMEOUT", 0.5)
    sleep = shutil.which("sleep", path=os.defpath)
    script(machine, "docker", f"{sleep} 60 & {sleep} 60")   # a child of its own keeps the pipe open too
    began = time.monotonic()
    report = asyncio.run(run_doctor(AppSettings()))
    assert time.monotonic() - began < 10
    (problem,) = report.warnings()
    assert "no answer within 0.5 s" in problem.message


def test_a_remote_runner_is_checked_instead_of_a_local_runtime(machine: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    with listen_on(0) as engine:
        port = engine.getsockname()[1]
        report = run_doctor_sync(AppSettings(runner_host=f"tcp://127.0.0.1:{port}"))
    assert report.ready and report.runner == f"tcp://127.0.0.1:{port}" and report.runtime == ""
    assert report.summary().endswith(f"remote engine tcp://127.0.0.1:{port}.")
    (problem,) = run_doctor_sync(AppSettings(runner_host=f"tcp://127.0.0.1:{port}")).problems()
    assert "does not answer" in problem.message and "Settings → Engine" in problem.fix
    (problem,) = run_doctor_sync(AppSettings(runner_host="ftp://x")).problems()
    assert "not one Dagger understands" in problem.message


def test_no_cli_and_no_network_says_so(machine: Path) -> None:
    docker_running(machine)
    report = run_doctor_sync(AppSettings())
    assert report.cli.origin == "download" and report.cli.path is None
    (problem,) = report.problems()
    assert problem.message.startswith(f"The Dagger CLI v{sdk_cli_version()} is not installed and cannot be "
                                      "downloaded")
    assert "Connect to the internet" in problem.fix


def test_a_cli_downloaded_earlier_by_the_sdk_is_found(machine: Path) -> None:
    docker_running(machine)
    cached = sdk_cache_binary()
    script(cached.parent, cached.name, "echo dagger v0.21.11")
    report = run_doctor_sync(AppSettings())
    assert report.ready and report.cli.origin == "cache" and report.cli.path == str(cached)


def test_dagger_on_path_is_used_only_when_its_version_matches_the_sdk(machine: Path) -> None:
    docker_running(machine)
    script(machine, "dagger", f'[ "$1" = version ] && echo "dagger v{sdk_cli_version()} linux/amd64"')
    report = run_doctor_sync(AppSettings())
    assert report.ready and report.cli.origin == "path" and report.cli.path == str(machine / "dagger")

    script(machine, "dagger", '[ "$1" = version ] && echo "dagger v0.9.1 linux/amd64"')
    os.utime(machine / "dagger", (time.time() + 5, time.time() + 5))   # a new binary: asked again
    report = run_doctor_sync(AppSettings())
    assert report.cli.origin == "download"
    assert "(v0.9.1) is not used" in report.notes[0]


# ----- the window's check: `cchub doctor --json` in a process of its own (engine_check.py) -------------------

def test_the_window_reads_the_same_verdict_as_cchub_doctor(machine: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The window and the CLI cannot disagree about the engine: the window runs `cchub doctor --json` on the
    same settings file and environment and reads its report back."""
    docker_running(machine)
    missing = tmp_path / "opt" / "dagger"
    AppSettings(dagger_cli_path=str(missing)).save(app_paths().settings_file)
    report = asyncio.run(engine_check.check_engine())
    assert cchub(["doctor", "--json"]) == 1
    assert report.to_dict() == json.loads(capsys.readouterr().out)
    (problem,) = report.problems()
    assert problem.message == f"The Dagger CLI {missing} does not exist."
    assert report.runtime == "docker" and report.cli.origin == "settings" and report.cli.path == str(missing)


def test_a_ready_verdict_comes_back_ready(machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli_path()))
    docker_running(machine)
    report = asyncio.run(engine_check.check_engine())
    assert report.ready and report.summary().startswith("Engine ready: Dagger CLI found; docker is running")


def test_a_check_that_ends_without_a_report_is_one_line_with_what_it_said_last(tmp_path: Path) -> None:
    broken = script(tmp_path / "bin", "cchub", 'echo "Traceback (most recent call last):" >&2; '
                                               'echo "ImportError: no module named httpx" >&2; exit 3')
    report = asyncio.run(engine_check.check_engine([str(broken)]))
    assert not report.ready
    (problem,) = report.problems()
    assert problem.message == ("The engine check ended with exit code 3 and no verdict: "
                               "ImportError: no module named httpx.")
    assert problem.fix == "Run 'cchub doctor' in a terminal to see its whole output."


def test_a_check_that_cannot_start_or_hangs_gives_a_verdict_and_leaves_no_process(tmp_path: Path) -> None:
    report = asyncio.run(engine_check.check_engine([str(tmp_path / "no-such-cchub")]))
    assert report.problems()[0].message.startswith("The engine check could not be started (No such file")
    pid_file = tmp_path / "pid"
    hung = script(tmp_path / "bin", "cchub", f'echo $$ > {pid_file}; exec sleep 60')
    report = asyncio.run(engine_check.check_engine([str(hung)], timeout=1.0))
    assert report.problems()[0].message == "The engine check gave no verdict in 1 s."
    with pytest.raises(ProcessLookupError):   # ended and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)
