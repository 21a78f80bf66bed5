"""The rules of the settings, one per field: a message saying what is wrong and what to write, or None.

One set of rules for every process: the settings dialog checks what the user types with all of them, and
every load of settings.json (the app, `cchub`) applies `stored_problems`, the rules that need no look at the
disk, so a hand-edited file cannot hand the engine or git an option (`--upload-pack=…`), an `ext::` or
`file://` URL, a newline, or a garbage engine address. Plain functions (no Qt).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

RUNNER_SCHEMES = ("tcp", "unix", "ssh", "kube-pod", "image", "container", "docker-image", "docker-container",
                  "podman-image", "podman-container", "nerdctl-image", "nerdctl-container")
_GIT_URL = re.compile(r"^(?:(?:https?|ssh|git)://[^\s/@]+(?:@[^\s/]+)?(?::\d+)?/\S+|[\w.-]+@[\w.-]+:\S+)$")
_GIT_REF = re.compile(r"^(?!-)(?!.*\.\.)[^\s~^:?*\[\\]+$")
_IMAGE = re.compile(r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
                    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HOST_COPY_INTERVAL_RANGE = (1, 24 * 60)   # minutes between host copies: the dialog's and every load's range


def check_no_control(value: str) -> str | None:
    if _CONTROL.search(value):
        return "It holds a line break or another control character; write it on one line."
    return None


CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN"        # what the Dagger SDK reads (stack/engine_env.py)
RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"


def cli_placeholder(environ: dict[str, str] | None = None) -> str:
    """What an empty Dagger CLI field means here: the CLI the environment names, else a download."""
    named = (os.environ if environ is None else environ).get(CLI_BIN_ENV, "").strip()
    if named:
        return f"Empty: ${CLI_BIN_ENV} ({named})"
    return "Empty: dagger on PATH if its version fits, else downloaded on first use"


def runner_placeholder(environ: dict[str, str] | None = None) -> str:
    """What an empty Remote engine field means here: the runner the environment names, else a local one."""
    named = (os.environ if environ is None else environ).get(RUNNER_HOST_ENV, "").strip()
    if named:
        return f"Empty: ${RUNNER_HOST_ENV} ({named})"
    return "Empty: Docker or Podman here. Remote: tcp://host:1234"


def check_cli_path(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.is_absolute():
        found = shutil.which(text)
        if found is None:
            return f"No program named {text!r} on your PATH. Give the full path to the dagger executable."
        path = Path(found)
    if not path.exists():
        return f"{path} does not exist. Pick the dagger executable, or leave this empty to download it."
    if not path.is_file():
        return f"{path} is not a file. Pick the dagger executable itself."
    if not os.access(path, os.X_OK):
        return f"{path} is not executable. Make it executable (chmod +x) or pick another file."
    return None


def check_runner_host(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or not rest.strip() or " " in text:
        return "Write the engine's address as scheme://address, e.g. tcp://buildbox:1234."
    if scheme not in RUNNER_SCHEMES:
        return f"Unknown kind of engine address {scheme!r}. Use one of: {', '.join(s + '://' for s in RUNNER_SCHEMES)}."
    if scheme == "tcp" and not re.fullmatch(r"[^\s:/]+:\d{1,5}/?", rest):
        return "A tcp:// address needs a host and a port, e.g. tcp://buildbox:1234."
    if scheme == "unix" and not rest.startswith("/"):
        return "A unix:// address needs an absolute socket path, e.g. unix:///run/dagger/engine.sock."
    return None


def check_git_url(value: str) -> str | None:
    text = value.strip()
    if not text:
        return "Give the CommandCenter repository's URL, or choose a local folder."
    if not _GIT_URL.fullmatch(text):
        return "This is not a git URL. Use https://host/owner/repo (or ssh://… or git@host:owner/repo)."
    return None


def check_git_ref(value: str) -> str | None:
    text = value.strip()
    if not text:
        return "Give a branch, tag or commit (e.g. main)."
    if not _GIT_REF.fullmatch(text):
        return "This is not a valid branch, tag or commit name."
    return None


def check_local_source(value: str) -> str | None:
    text = value.strip()
    if not text:
        return "Choose the folder of a CommandCenter checkout, or use the git repository."
    path = Path(text).expanduser()
    if not path.is_absolute():
        return "Give the folder's full path (or use Browse…)."
    if not path.exists():
        return f"{path} does not exist."
    if not path.is_dir():
        return f"{path} is not a folder."
    missing = [sub for sub in ("backend", "frontend") if not (path / sub).is_dir()]
    if missing:
        return (f"{path} does not look like a CommandCenter checkout: it has no "
                f"{' and no '.join(m + '/' for m in missing)} folder.")
    return None


def check_image(value: str) -> str | None:
    text = value.strip()
    if not text:
        return "Give an image reference, e.g. postgres:15-alpine."
    if not _IMAGE.fullmatch(text):
        return "Not an image reference: use name:tag, lowercase, no spaces."
    return None


def check_copy_interval(value: str) -> str | None:
    """Minutes between the host copies of a running project's data (host_copies.py)."""
    low, high = HOST_COPY_INTERVAL_RANGE
    text = value.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        return f"Give a whole number of minutes from {low} to {high} (the default is 15)."
    return None


def check_stored_path(value: str) -> str | None:
    """A path in the file: empty, a program name, or absolute; never an option."""
    text = value.strip()
    if text.startswith("-"):
        return "A path cannot start with '-'."
    return None


def check_stored_folder(value: str) -> str | None:
    text = value.strip()
    if text and not Path(text).expanduser().is_absolute():
        return "Give the folder's full path."
    return None


QUIT_CHOICES = ("ask", "stop", "leave")   # what Quit does with running stacks (AppSettings.on_quit)


def check_quit_choice(value: str) -> str | None:
    return None if value in QUIT_CHOICES else f"one of {', '.join(QUIT_CHOICES)}"


# what every load checks (no look at the disk: a folder not mounted yet is no reason to forget it)
STORED_RULES: Mapping[str, Callable[[str], str | None]] = {
    "dagger_cli_path": check_stored_path,
    "runner_host": check_runner_host,
    "source_git_url": check_git_url,
    "source_git_ref": check_git_ref,
    "source_local_dir": check_stored_folder,
    "postgres_image": check_image,
    "redis_image": check_image,
    "python_image": check_image,
    "node_image": check_image,
    "on_quit": check_quit_choice,
}


def stored_problem(field: str, value: str) -> str | None:
    """What is wrong with a value read from the settings file, or None (fields without a rule: None)."""
    rule = STORED_RULES.get(field)
    if rule is None:
        return None
    return check_no_control(value) or rule(value)
