"""The README's first lines give the two commands a new user needs, and CI runs exactly the test command."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    head = (ROOT / "README.md").read_text().splitlines()[:12]
    return [line.strip() for line in head if line.startswith("    ")]


def test_readme_opens_with_install_and_test_commands() -> None:
    install, test = readme_commands()
    assert "pip install" in install and "cchub-desktop" in install
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _install, test = readme_commands()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines
