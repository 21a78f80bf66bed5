"""A secret variable in a real desktop keyring: GNOME Keyring's Secret Service on a D-Bus session of its own
(`dbus-run-session`, Debian's gnome-keyring, which .ci/run installs). `cchub env --secret` keeps the value
there and nowhere in the app's home; a start reads it back from there; `--unset` removes it from there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from tests.helpers import skip_unless_tools

SECRET = "sk-live-4f9a-keyring-only-7c21"
SESSION = r"""
set -e
printf 'login-password' | gnome-keyring-daemon --unlock --components=secrets > /dev/null
printf '%s\n' "$SECRET" | "$PY" -m cchub_desktop.cli env Demo --secret OPENAI_API_KEY
"$PY" - <<'PY'
import os, pathlib, keyring
from cchub_desktop.env_vars import KEYRING_SERVICE, EnvironmentStore
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
secret = os.environ["SECRET"]
print("backend:", type(keyring.get_keyring()).__module__)
key = ProjectStore(app_paths().db_file).get_by_name("Demo").data_key
print("a start passes it:", dict(EnvironmentStore(app_paths()).for_project(key).secret) == {"OPENAI_API_KEY": secret})
print("in the keyring:", keyring.get_password(KEYRING_SERVICE, f"{key}/OPENAI_API_KEY") == secret)
home = pathlib.Path(os.environ["CCHUB_HOME"])
print("in the app's home:", [str(p) for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()])
PY
"$PY" -m cchub_desktop.cli env Demo --unset OPENAI_API_KEY
"$PY" - <<'PY'
import keyring
from cchub_desktop.env_vars import KEYRING_SERVICE
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
key = ProjectStore(app_paths().db_file).get_by_name("Demo").data_key
print("after --unset:", keyring.get_password(KEYRING_SERVICE, f"{key}/OPENAI_API_KEY"))
PY
"""


def test_a_secret_lives_in_the_desktop_keyring_and_nowhere_in_the_apps_home(
        cchub_home: Path, project_dir: Path, tmp_path: Path) -> None:
    skip_unless_tools("dbus-run-session", "gnome-keyring-daemon", package="dbus-daemon gnome-keyring")
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    store.add("Demo", project_dir)
    store.close()
    home = tmp_path / "user-home"          # the keyring's own files: outside the app's home
    (home / ".cache").mkdir(parents=True)
    (home / ".local/share").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_KEYRING", "DBUS_", "XDG_RUNTIME"))}
    env.update(HOME=str(home), SECRET=SECRET, PY=sys.executable)
    result = subprocess.run(["dbus-run-session", "--", "sh", "-c", SESSION], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "kept in the desktop keyring" in out, out
    assert "backend: keyring.backends.SecretService" in out, out
    assert "a start passes it: True" in out and "in the keyring: True" in out, out
    assert "in the app's home: []" in out, out
    assert "after --unset: None" in out, out
