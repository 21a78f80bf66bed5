"""The README's first lines give the commands a new user needs (the system libraries Qt needs on
Debian/Ubuntu, install and run, test), and CI runs exactly the test command on the same libraries."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    head = (ROOT / "README.md").read_text().splitlines()[:16]
    return [line.strip() for line in head if line.startswith("    ")]


def ci_apt_packages() -> set[str]:
    """The packages .ci/run installs, from its APT_PACKAGES list."""
    text = (ROOT / ".ci" / "run").read_text()
    body = text.split("APT_PACKAGES=(", 1)[1].split("\n)", 1)[0]
    lines = [line.split("#", 1)[0] for line in body.splitlines()]
    return {word for line in lines for word in line.split()}


def test_readme_opens_with_system_libraries_install_and_test_commands() -> None:
    apt, install, test = readme_commands()
    assert apt.startswith("sudo apt-get install")
    assert "pip install" in install and "cchub-desktop" in install
    assert "pytest" in test


def test_the_readme_apt_line_has_every_qt_library_ci_installs() -> None:
    apt = readme_commands()[0]
    named = set(apt.split()[3:])
    qt_lib = re.compile(r"lib(egl|gl|fontconfig|freetype|dbus|glib|xkb|xcb|x11)")
    qt_libraries = {p for p in ci_apt_packages() if qt_lib.match(p)}
    assert {"libegl1", "libgl1", "libfontconfig1", "libxkbcommon0", "libdbus-1-3"} <= qt_libraries
    assert qt_libraries <= named, f"missing from the README: {sorted(qt_libraries - named)}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _apt, _install, test = readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines
