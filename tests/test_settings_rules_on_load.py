"""One set of settings rules, applied on every load by every process: a hand-edited settings.json cannot
hand git or the engine an option, an `ext::` or `file://` URL, a newline, or a garbage engine address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings, load_settings

HOSTILE = [
    ("source_git_ref", "--upload-pack=touch /tmp/x"),
    ("source_git_ref", "main\n--upload-pack=touch /tmp/x"),
    ("source_git_url", "ext::sh -c touch% /tmp/x"),
    ("source_git_url", "file:///etc"),
    ("source_git_url", "https://example.com/a/b\nhttps://evil/x"),
    ("postgres_image", "postgres:16\nFROM evil"),
    ("node_image", "--privileged"),
    ("runner_host", "garbage"),
    ("runner_host", "unix:///run/x.sock\nexport Y=1"),
    ("dagger_cli_path", "--help"),
    ("source_local_dir", "relative/dir"),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_a_hostile_value_falls_back_to_its_default_and_says_so(tmp_path: Path, field: str, value: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({field: value, "redis_image": "redis:6"}))
    loaded = load_settings(path)
    assert getattr(loaded.settings, field) == getattr(AppSettings(), field)
    assert loaded.settings.redis_image == "redis:6"   # the good ones are kept
    assert len(loaded.notices) == 1 and field in loaded.notices[0] and "\n" not in loaded.notices[0]


def test_cchub_plan_never_sees_an_injected_ref(project_dir: Path) -> None:
    env = dict(os.environ)
    run = [sys.executable, "-m", "cchub_desktop.cli"]
    assert subprocess.run([*run, "add", "A", str(project_dir)], env=env, capture_output=True,
                          timeout=120).returncode == 0
    paths = app_paths()
    paths.settings_file.write_text(json.dumps({"source_git_ref": "--upload-pack=touch /tmp/x",
                                               "source_git_url": "ext::sh -c touch% /tmp/x"}))
    done = subprocess.run([*run, "plan", "A"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "upload-pack" not in done.stdout and "ext::" not in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("cchub: ") and "source_git_ref" in warnings[0]


def test_the_defaults_pass_their_own_rules() -> None:
    path_values = AppSettings().to_dict()
    assert AppSettings.from_dict(path_values) == AppSettings()
