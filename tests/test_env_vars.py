"""The user's environment variables: `cchub env`, the keyring or the secrets folder, and what a start passes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.env_vars import ALL, EnvironmentStore
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from tests.cli_process import cchub, start_cchub
from tests.helpers import LineReader, wait_for

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-ant-test-7f3e9a1c5b"
KEYRING_BACKEND = """
import json, os
from pathlib import Path
from keyring.backend import KeyringBackend

class FileRing(KeyringBackend):
    priority = 1
    def _path(self):
        return Path(os.environ["TEST_KEYRING_FILE"])
    def _data(self):
        return json.loads(self._path().read_text()) if self._path().exists() else {}
    def get_password(self, service, username):
        return self._data().get(service + "|" + username)
    def set_password(self, service, username, password):
        data = self._data(); data[service + "|" + username] = password
        self._path().write_text(json.dumps(data))
    def delete_password(self, service, username):
        data = self._data(); data.pop(service + "|" + username, None)
        self._path().write_text(json.dumps(data))
"""


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """No desktop keyring answers (a headless machine): secrets go to the 0600 secrets folder."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture
def test_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A keyring backend the `keyring` package loads as it loads the desktop's (a test stand-in for the
    Secret Service: a file outside the app's home)."""
    module_dir = tmp_path / "ringmod"
    module_dir.mkdir()
    (module_dir / "test_ring.py").write_text(KEYRING_BACKEND)
    store = tmp_path / "keyring.json"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(module_dir), str(REPO)]))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "test_ring.FileRing")
    monkeypatch.setenv("TEST_KEYRING_FILE", str(store))
    return store


def add(name: str, folder: Path, block: FreePortBlock | None = None) -> str:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    try:
        ports = {f"{k}_port": v for k, v in block.as_dict().items()} if block else {}
        return store.add(name, folder, **ports).data_key  # type: ignore[arg-type]
    finally:
        store.close()


def env_cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("cchub")
    return subprocess.run([str(exe), "env", *argv], input=stdin, capture_output=True, text=True,
                          env=dict(os.environ), timeout=60, check=False)


def files_holding(root: Path, text: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_env_sets_lists_and_unsets_with_a_secret_in_the_secrets_folder(no_keyring: None, project_dir: Path,
                                                                       cchub_home: Path) -> None:
    add("Demo", project_dir)
    assert env_cli("Demo", "GITHUB_ORG=acme", "FEATURE=on").returncode == 0
    secret = env_cli("Demo", "--secret", "ANTHROPIC_API_KEY", stdin=SECRET + "\n")
    assert secret.returncode == 0 and "kept in the secrets folder" in secret.stdout
    assert env_cli("--all-projects", "LOG_LEVEL=debug").returncode == 0
    listed = env_cli("Demo").stdout.splitlines()
    assert listed == ["ANTHROPIC_API_KEY=<secret>  (this project)", "FEATURE=on  (this project)",
                      "GITHUB_ORG=acme  (this project)", "LOG_LEVEL=debug  (all projects)"]
    assert files_holding(cchub_home, SECRET) == [app_paths().secrets_dir / "environment.json"]
    assert (app_paths().secrets_dir / "environment.json").stat().st_mode & 0o077 == 0
    plan = cchub("plan", "Demo").stdout
    assert "ANTHROPIC_API_KEY <- secret cchub-" in plan and SECRET not in plan and "GITHUB_ORG=acme" in plan
    assert env_cli("Demo", "--unset", "ANTHROPIC_API_KEY", "--unset", "FEATURE").returncode == 0
    assert files_holding(cchub_home, SECRET) == []
    assert [v.key for v in EnvironmentStore(app_paths()).variables(ALL)] == ["LOG_LEVEL"]
    assert "ANTHROPIC_API_KEY" not in env_cli("Demo").stdout


def test_a_secret_goes_to_the_keyring_when_one_answers(test_keyring: Path, project_dir: Path,
                                                       cchub_home: Path) -> None:
    add("Demo", project_dir)
    result = env_cli("Demo", "--secret", "OPENAI_API_KEY", stdin=SECRET + "\n")
    assert result.returncode == 0, result.stderr
    assert "kept in the desktop keyring" in result.stdout
    assert SECRET in test_keyring.read_text()
    assert files_holding(cchub_home, SECRET) == []
    assert env_cli("Demo", "--unset", "OPENAI_API_KEY").returncode == 0
    assert SECRET not in test_keyring.read_text()


@pytest.mark.parametrize(("argv", "expected"), [
    (["Demo", "1BAD=x"], "'1BAD' is not a variable name"),
    (["Demo", "NOVALUE"], "'NOVALUE' is not KEY=VALUE (for a secret, use --secret NOVALUE)"),
    (["Demo", "DATABASE_URL=x"], "DATABASE_URL is set by the stack itself"),
    (["Demo", "A=one\ntwo"], "the value of A contains a control character (U+000A"),
    (["Demo", "--secret", "BAD-KEY"], "'BAD-KEY' is not a variable name"),
    (["Nope", "A=1"], "no project named 'Nope'"),
    ([], "name a project, or give --all-projects"),
])
def test_bad_input_is_one_line_exit_1_and_changes_nothing(no_keyring: None, project_dir: Path,
                                                          argv: list[str], expected: str) -> None:
    add("Demo", project_dir)
    result = env_cli(*argv)
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (app_paths().data_dir / "environment.json").exists()


def test_an_empty_secret_is_refused(no_keyring: None, project_dir: Path) -> None:
    add("Demo", project_dir)
    result = env_cli("Demo", "--secret", "OPENAI_API_KEY", stdin="\n")
    assert result.returncode == 1 and "no value given for OPENAI_API_KEY" in result.stderr


def _session_calls(fake: FakeDagger, pid: int, field: str) -> list[dict[str, object]]:
    return [dict(r["args"]) for r in fake.journal.calls(field, pid=pid)]


def _run_up_once(fake: FakeDagger, block: FreePortBlock) -> tuple[int, list[str]]:
    """`cchub up Demo` until running; (its fake session's pid, the command lines of the processes then)."""
    before = {s.pid for s in fake.journal.sessions()}
    proc = start_cchub("up", "Demo")
    assert proc.stdout is not None
    out = LineReader(proc.stdout)
    try:
        wait_for(lambda: out.has("Press Ctrl-C"), timeout=60)
        cmdlines = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):   # ended meanwhile
                    cmdlines.append((entry / "cmdline").read_bytes().decode(errors="replace"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (pid,) = [s.pid for s in fake.journal.sessions() if s.pid not in before]
    return pid, cmdlines


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the command lines from /proc")
def test_a_start_passes_secrets_as_dagger_secrets_and_plain_ones_as_env(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, cchub_home: Path,
        no_keyring: None) -> None:
    add("Demo", project_dir, port_block)
    assert env_cli("Demo", "--secret", "ANTHROPIC_API_KEY", stdin=SECRET + "\n").returncode == 0
    assert env_cli("--all-projects", "GITHUB_ORG=acme").returncode == 0
    pid, cmdlines = _run_up_once(fake_dagger_env, port_block)
    secret_vars = _session_calls(fake_dagger_env, pid, "withSecretVariable")
    assert any(call["name"] == "ANTHROPIC_API_KEY" for call in secret_vars)
    assert any(str(call["name"]).endswith("-env-ANTHROPIC_API_KEY")
               for call in _session_calls(fake_dagger_env, pid, "setSecret"))
    env_vars = _session_calls(fake_dagger_env, pid, "withEnvVariable")
    assert {"name": "GITHUB_ORG", "value": "acme"} in [{k: c.get(k) for k in ("name", "value")} for c in env_vars]
    assert not any(call.get("name") == "ANTHROPIC_API_KEY" for call in env_vars)
    assert SECRET not in fake_dagger_env.journal.all_text()
    assert not any(SECRET in line for line in cmdlines)
    assert files_holding(cchub_home, SECRET) == [app_paths().secrets_dir / "environment.json"]
    # removed: gone at the next start
    assert env_cli("Demo", "--unset", "ANTHROPIC_API_KEY").returncode == 0
    assert env_cli("--all-projects", "--unset", "GITHUB_ORG").returncode == 0
    pid, _ = _run_up_once(fake_dagger_env, port_block)
    assert not any(call["name"] == "ANTHROPIC_API_KEY"
                   for call in _session_calls(fake_dagger_env, pid, "withSecretVariable"))
    assert not any(call.get("name") == "GITHUB_ORG" for call in _session_calls(fake_dagger_env, pid,
                                                                                 "withEnvVariable"))
    fake_dagger_env.sessions_exited()


def test_a_change_to_a_running_project_says_restart_to_apply(no_keyring: None, project_dir: Path) -> None:
    from cchub_desktop.paths import app_paths as paths_now
    from tests.lease_holder import LeaseHolder

    data_key = add("Demo", project_dir)
    assert "restart to apply" not in env_cli("Demo", "A=1").stdout
    with LeaseHolder(paths_now().runtime_dir, data_key, "Demo", state="running"):
        result = env_cli("Demo", "A=2")
    assert result.returncode == 0
    assert "running now: restart to apply, with 'cchub restart \"Demo\"'" in result.stdout


def test_a_secret_whose_value_is_gone_stops_a_start_with_one_line(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, no_keyring: None) -> None:
    add("Demo", project_dir, port_block)
    assert env_cli("Demo", "--secret", "SLACK_TOKEN", stdin=SECRET + "\n").returncode == 0
    (app_paths().secrets_dir / "environment.json").unlink()
    up = cchub("up", "Demo")
    assert up.returncode == 1
    assert up.stderr.startswith("cchub: the value of the secret variable SLACK_TOKEN is missing"), up.stderr
    assert "Traceback" not in up.stderr
    assert fake_dagger_env.journal.sessions() == []   # nothing was started
