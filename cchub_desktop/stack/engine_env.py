"""Which Dagger CLI runs, and the environment it starts with.

The dagger-io SDK takes everything from the process environment: it reads `_EXPERIMENTAL_DAGGER_CLI_BIN`
with os.getenv when it connects, and starts `dagger session` with subprocess.Popen without an `env=`, so the
CLI inherits os.environ as it is at that moment (that is how `_EXPERIMENTAL_DAGGER_RUNNER_HOST` and
`DAGGER_PROGRESS` reach it). There is no per-connection option. So the variables are put into os.environ only
while sessions are being provisioned, and taken out again when the last one is up: stacks that need the
same values provision concurrently, a stack that needs different values waits for the others to finish
provisioning, and nothing stays behind in the process environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import platformdirs

from cchub_desktop.settings import CLI_BIN_ENV, RUNNER_HOST_ENV, AppSettings
from cchub_desktop.stack.doctor_report import CliChoice

PROGRESS_ENV = {"DAGGER_PROGRESS": "plain", "NO_COLOR": "1"}
VERSION_TIMEOUT = 5.0


@functools.cache
def sdk_cli_version() -> str:
    """The CLI version this dagger-io SDK downloads and expects. Read from the SDK's files without importing
    the SDK (importing `dagger` takes most of a second, too slow for the app's start)."""
    spec = importlib.util.find_spec("dagger")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            text = (Path(folder) / "_engine" / "_version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        match = re.search(r'CLI_VERSION\s*=\s*"([^"]+)"', text)
        if match:
            return match.group(1)
    from importlib import metadata  # here: it brings email, csv and zipfile, which an idle window does without

    return metadata.version("dagger-io")


def sdk_cache_binary() -> Path:
    """Where the SDK caches the CLI it downloads (mirrors dagger.provisioning's Downloader)."""
    env = os.getenv("XDG_CACHE_HOME", "").strip()
    base = Path(env).expanduser() if env else platformdirs.user_cache_path()
    name = f"dagger-{sdk_cli_version()}" + (".exe" if os.name == "nt" else "")
    return base / "dagger" / name


def describe_cli(choice: CliChoice) -> str:
    """Which CLI a start uses, and from where, in a few words."""
    where = {"settings": "from Settings", "environment": f"from ${CLI_BIN_ENV}",
             "path": "found on PATH", "cache": "downloaded earlier by the Dagger SDK",
             "download": ""}[choice.origin]
    if choice.path is None:
        return f"Dagger CLI v{sdk_cli_version()} will be downloaded on first start"
    version = f" ({choice.version})" if choice.version else ""
    return f"{choice.path}{version}, {where}"


_version_cache: dict[tuple[str, float], str | None] = {}
_version_lock = threading.Lock()


def cli_version(path: str, timeout: float = VERSION_TIMEOUT) -> str | None:
    """'v0.21.11' from `dagger version`, or None when it does not run (cached per binary and mtime)."""
    try:
        key = (path, os.stat(path).st_mtime)
    except OSError:
        return None
    with _version_lock:
        if key in _version_cache:
            return _version_cache[key]
    code, out = run_with_timeout([path, "version"], timeout)
    match = re.search(r"v\d+\.\d+\.\d+\S*", out) if code == 0 else None
    version = match.group(0) if match else None
    with _version_lock:
        _version_cache[key] = version
    return version


def run_with_timeout(args: list[str], timeout: float) -> tuple[int | None, str]:
    """(exit code, output) of a command; (None, reason) when it cannot run or does not finish in time.
    The command gets a process group of its own, so a hung child is killed with everything it started."""
    posix = os.name == "posix"
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=posix)
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if posix:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.communicate()
        return None, f"no answer within {timeout:g} s"
    return proc.returncode, out


def _same_minor(version: str | None) -> bool:
    if not version:
        return False
    want = sdk_cli_version().split(".")[:2]
    return version.lstrip("v").split(".")[:2] == want


def locate_cli(settings: AppSettings, environ: Mapping[str, str] | None = None) -> CliChoice:
    """The CLI a start will use: Settings, then $_EXPERIMENTAL_DAGGER_CLI_BIN, then `dagger` on PATH (when
    its version matches the SDK's), then the SDK's cached download, else a download on first start.
    May run `dagger version` (short timeout): call it from a worker thread."""
    env = ENVIRONMENT_GATE.baseline() if environ is None else environ
    configured = settings.dagger_cli_path.strip()
    if configured:
        path = str(Path(configured).expanduser())
        return CliChoice("settings", path, cli_version(path) if os.access(path, os.X_OK) else None)
    from_env = env.get(CLI_BIN_ENV, "").strip()
    if from_env:
        return CliChoice("environment", from_env, None)
    on_path = shutil.which("dagger", path=env.get("PATH"))
    skipped = ""
    if on_path:
        version = cli_version(on_path)
        if _same_minor(version):
            return CliChoice("path", on_path, version)
        skipped = (f"{on_path} ({version or 'version unknown'}) is not used: this app needs Dagger "
                   f"v{'.'.join(sdk_cli_version().split('.')[:2])}.x")
    cached = sdk_cache_binary()
    if cached.is_file():
        return CliChoice("cache", str(cached), f"v{sdk_cli_version()}", skipped)
    return CliChoice("download", None, None, skipped)


def session_environment(settings: AppSettings, choice: CliChoice) -> dict[str, str]:
    """The variables to set while a session is provisioned."""
    env = dict(PROGRESS_ENV)
    if choice.origin in ("settings", "path") and choice.path:
        env[CLI_BIN_ENV] = choice.path
    if settings.runner_host.strip():
        env[RUNNER_HOST_ENV] = settings.runner_host.strip()
    return env


class _EnvironmentGate:
    POLL = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._applied: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    def _try_enter(self, wanted: dict[str, str]) -> bool:
        with self._lock:
            if self._holders == 0:
                self._saved = {key: os.environ.get(key) for key in wanted}
                os.environ.update(wanted)
                self._applied = dict(wanted)
            elif wanted != self._applied:
                return False
            self._holders += 1
            return True

    def baseline(self) -> dict[str, str]:
        """os.environ as it is without the variables applied for sessions being provisioned."""
        with self._lock:
            env = dict(os.environ)
            for key, value in self._saved.items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = value
            return env

    def _leave(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders:
                return
            for key, value in self._saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved, self._applied = {}, {}

    @contextlib.asynccontextmanager
    async def applied(self, wanted: dict[str, str]) -> AsyncIterator[None]:
        while not self._try_enter(wanted):
            await asyncio.sleep(self.POLL)  # only while another stack provisions with other settings
        try:
            yield
        finally:
            self._leave()


ENVIRONMENT_GATE = _EnvironmentGate()
