"""`cchub doctor` and the UI's engine status line: which Dagger CLI a start will use, and whether an engine
can run (a local container runtime that answers, or the remote runner named in Settings). Every check has a
short timeout, so this never hangs."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from cchub_desktop.settings import CLI_BIN_ENV, RUNNER_HOST_ENV, AppSettings
from cchub_desktop.stack.doctor_report import CliChoice, DoctorCheck, DoctorReport
from cchub_desktop.stack.engine_env import (
    ENVIRONMENT_GATE,
    describe_cli,
    locate_cli,
    run_with_timeout,
    sdk_cli_version,
)
from cchub_desktop.stack.runtime_advice import install_advice, start_advice

RUNTIMES = ("docker", "podman", "nerdctl")
COMMAND_TIMEOUT = 5.0
NETWORK_TIMEOUT = 4.0
DOWNLOAD_BASE = "https://dl.dagger.io/dagger/releases"


async def run_doctor(settings: AppSettings) -> DoctorReport:
    """All checks, concurrently, off the event loop."""
    return await asyncio.to_thread(run_doctor_sync, settings)


def run_doctor_sync(settings: AppSettings) -> DoctorReport:
    env = ENVIRONMENT_GATE.baseline()
    choice = locate_cli(settings, env)
    notes = [choice.note] if choice.note else []
    runner = settings.runner_host.strip() or env.get(RUNNER_HOST_ENV, "").strip()
    checks = [_cli_check(choice)]
    runtime = ""
    if runner:
        checks.append(runner_check(runner, "Settings" if settings.runner_host.strip() else f"${RUNNER_HOST_ENV}"))
    else:
        runtime_check, runtime = _runtime_check(env)
        if not runtime_check.ok and choice.origin in ("settings", "environment"):
            runtime_check = _as_warning(runtime_check, choice)
        checks.append(runtime_check)
    source_checks, source_note = source_doctor_checks(settings)
    checks += source_checks
    if source_note:
        notes.append(source_note)
    return DoctorReport(checks=checks, cli=choice, runner=runner, runtime=runtime, notes=notes)


def source_doctor_checks(settings: AppSettings, db_image: str = "") -> tuple[list[DoctorCheck], str]:
    """The source check (stack/source_check.py) as doctor lines: one per problem, each with its fix; a
    note instead when the source is git (checked only once the engine has fetched it)."""
    from cchub_desktop.stack.source_check import check_source
    from cchub_desktop.stack.source_settings import SourceSettings

    src = SourceSettings.from_settings(settings)
    report = check_source(src.local_dir, src.git_url, src.git_ref, db_image or settings.postgres_image)
    if not report.checked:
        return [], report.note
    if report.ok:
        return [DoctorCheck("CommandCenter source", True, report.lines()[0])], ""
    return [DoctorCheck("CommandCenter source", False, p.what + ".", p.fix[:1].upper() + p.fix[1:] + ".")
            for p in report.problems], ""


def _cli_check(choice: CliChoice) -> DoctorCheck:
    name = "Dagger CLI"
    if choice.path is None:
        return _download_check()
    if not os.path.isfile(choice.path) or not os.access(choice.path, os.X_OK):
        where = {"settings": "Fix the path in Settings → Engine, or clear it to let the app download the CLI.",
                 "environment": f"Fix or unset ${CLI_BIN_ENV}."}.get(choice.origin, "")
        problem = "does not exist" if not os.path.exists(choice.path) else "is not an executable file"
        return DoctorCheck(name, False, f"The Dagger CLI {choice.path} {problem}.", where)
    return DoctorCheck(name, True, describe_cli(choice))


def _download_check() -> DoctorCheck:
    """No CLI yet: the SDK downloads it on first start. Check that the download is reachable (HEAD, with
    the proxies from the environment, as the SDK's own download does) and how big it is."""
    import httpx

    from cchub_desktop.stack.engine_env import sdk_cache_binary

    version = sdk_cli_version()
    uname = platform.uname()  # the same platform naming as the SDK's downloader
    os_name = uname.system.lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine.lower(), uname.machine.lower())
    ext = "zip" if os_name == "windows" else "tar.gz"
    url = f"{DOWNLOAD_BASE}/{version}/dagger_v{version}_{os_name}_{arch}.{ext}"
    try:
        response = httpx.head(url, follow_redirects=True, timeout=NETWORK_TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return DoctorCheck("Dagger CLI", False,
                           f"The Dagger CLI v{version} is not installed and cannot be downloaded "
                           f"({type(exc).__name__}).",
                           "Connect to the internet, or install Dagger and set its path in Settings → Engine.")
    size = response.headers.get("content-length", "")
    about = f" (~{int(size) / 1e6:.0f} MB)" if size.isdigit() else ""
    return DoctorCheck("Dagger CLI", True, f"Dagger CLI v{version} will be downloaded on first start{about} "
                                           f"to {sdk_cache_binary().parent}.")


def runner_check(runner: str, origin: str) -> DoctorCheck:
    name = "Engine runner"
    parts = urlsplit(runner)
    scheme = parts.scheme
    if scheme == "tcp":
        host, port = parts.hostname or "", parts.port
        if not host or not port:
            return DoctorCheck(name, False, f"The runner address {runner} ({origin}) has no host:port.",
                               "Use tcp://HOST:PORT.")
        try:
            with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT):
                pass
        except OSError as exc:
            return DoctorCheck(name, False, f"The remote engine {runner} ({origin}) does not answer "
                                            f"({exc.strerror or type(exc).__name__}).",
                               "Start the engine there, or fix the address in Settings → Engine.")
        return DoctorCheck(name, True, f"Remote engine {runner} answers ({origin}).")
    if scheme == "unix":
        path = parts.path
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(NETWORK_TIMEOUT)
                sock.connect(path)
        except (OSError, AttributeError) as exc:
            return DoctorCheck(name, False, f"The engine socket {path} ({origin}) does not answer "
                                            f"({getattr(exc, 'strerror', None) or type(exc).__name__}).",
                               "Start the engine, or fix the address in Settings → Engine.")
        return DoctorCheck(name, True, f"Engine socket {path} answers ({origin}).")
    if scheme in ("ssh", "kube-pod", "docker-container", "podman-container", "image", "container"):
        return DoctorCheck(name, True, f"Engine runner {runner} ({origin}); not checked from here — the first "
                                       "start will tell.")
    return DoctorCheck(name, False, f"The runner address {runner} ({origin}) is not one Dagger understands.",
                       "Use tcp://, unix://, ssh://, kube-pod://, image:// or container://, or clear it.")


def _as_warning(check: DoctorCheck, choice: CliChoice) -> DoctorCheck:
    """A Dagger CLI set explicitly may reach an engine this check cannot see: warn, and let the start go
    ahead (as `cchub up` does); the engine's own error, if any, is what a failed start shows."""
    where = "Settings" if choice.origin == "settings" else f"${CLI_BIN_ENV}"
    return replace(check, warning=True,
                   fix=f"{check.fix} Starts still go ahead with the Dagger CLI from {where}.")


def _runtime_check(env: dict[str, str]) -> tuple[DoctorCheck, str]:
    name = "Container runtime"
    found = [(rt, path) for rt in RUNTIMES if (path := shutil.which(rt, path=env.get("PATH")))]
    if not found:
        return DoctorCheck(name, False, "No container runtime found (docker, podman or nerdctl): the Dagger "
                                        "engine runs in one.",
                           f"{install_advice()}, or name a remote engine in Settings → Engine."), ""
    tried = []
    for runtime, path in found:
        answered, why = _answers(path)
        if answered:
            return DoctorCheck(name, True, f"{runtime} is running ({path})."), runtime
        tried.append(f"{runtime}: {why}")
    first = found[0][0]
    label = "Docker" if first == "docker" else first.capitalize()
    return DoctorCheck(name, False, f"{label} is not running ({'; '.join(tried)}).",
                       start_advice(first)), ""


def _answers(path: str) -> tuple[bool, str]:
    code, out = run_with_timeout([path, "info"], COMMAND_TIMEOUT)
    if code is None:
        return False, out or f"no answer within {COMMAND_TIMEOUT:g} s"
    if code == 0:
        return True, ""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return False, (lines[-1][:200] if lines else f"exit code {code}")
