"""Start at login: the XDG autostart entry is written, runs this app, and is removed again."""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cchub_desktop import __version__, autostart


@pytest.fixture
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def exec_argv(exec_line: str) -> list[str]:
    """Split an Exec value as the Desktop Entry Specification says: undo the string escape (\\\\ is \\),
    then split on spaces outside double quotes, where \\ escapes " ` $ and \\; %% is a literal %."""
    text = exec_line.replace("\\\\", "\\")
    args: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted:
            if current:
                args.append("".join(current))
            current = []
        else:
            current.append(ch)
    assert not quoted and not escaped, exec_line
    if current:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is for Linux and other freedesktop systems")
def test_enable_writes_an_entry_that_starts_this_app(xdg_config: Path) -> None:
    assert not autostart.is_enabled()
    path = autostart.enable()
    assert path == xdg_config / "autostart" / "cchub-desktop.desktop"
    assert autostart.is_enabled()
    entry = read_entry(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "CommandCenter Hub"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert "TryExec" not in entry and "Hidden" not in entry
    argv = exec_argv(entry["Exec"])
    assert Path(argv[0]).is_absolute()  # works without the virtualenv on PATH at login
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    run = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    assert __version__ in run.stdout


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is for Linux and other freedesktop systems")
def test_disable_removes_the_entry_and_tolerates_none(xdg_config: Path) -> None:
    autostart.enable()
    autostart.disable()
    assert not (xdg_config / "autostart" / "cchub-desktop.desktop").exists()
    assert not autostart.is_enabled()
    autostart.disable()  # nothing there: nothing to do


def test_an_entry_switched_off_inside_counts_as_off(xdg_config: Path) -> None:
    path = xdg_config / "autostart" / "cchub-desktop.desktop"
    path.parent.mkdir(parents=True)
    path.write_text("[Desktop Entry]\nType=Application\nExec=cchub-desktop\nHidden=true\n")
    assert not autostart.is_enabled()


def test_paths_with_spaces_and_specials_are_quoted() -> None:
    text = autostart.desktop_entry(["/opt/My Apps/cchub-desktop", "--x=$HOME", "50%"],
                                   template="[Desktop Entry]\nName=X\nExec=old\nTryExec=old\n")
    entry = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert entry["Exec"] == '"/opt/My Apps/cchub-desktop" "--x=\\\\$HOME" 50%%'
    assert exec_argv(entry["Exec"]) == ["/opt/My Apps/cchub-desktop", "--x=$HOME", "50%"]
    assert "TryExec" not in entry


def test_without_xdg_config_home_the_entry_goes_under_dot_config(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.autostart_file() == tmp_path / ".config" / "autostart" / "cchub-desktop.desktop"


@pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is for Linux and other freedesktop systems")
def test_an_unwritable_folder_is_reported_with_what_to_do(xdg_config: Path) -> None:
    xdg_config.mkdir()
    (xdg_config / "autostart").write_text("a file where the folder should be\n")
    with pytest.raises(autostart.AutostartError, match=r"not writable.*permissions"):
        autostart.enable()


@pytest.mark.parametrize(("platform", "hint"), [("darwin", "Login Items"), ("win32", "shell:startup")])
def test_other_systems_are_told_where_to_set_it(monkeypatch: pytest.MonkeyPatch, xdg_config: Path,
                                               platform: str, hint: str) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(autostart.AutostartError, match=hint):
        autostart.enable()
    assert not (xdg_config / "autostart").exists()


def test_autostart_imports_no_qt() -> None:
    """Start at login is core code: it works from `cchub` and without a display."""
    code = ("import sys, cchub_desktop.autostart; "
            "sys.exit(1 if any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_a_line_break_in_the_program_path_stays_inside_the_exec_line() -> None:
    from cchub_desktop.autostart import desktop_entry

    entry = desktop_entry(["/opt/odd\nHidden=true\rX=1\tdir/cchub-desktop"])
    lines = entry.splitlines()
    assert not any(line.startswith(("Hidden=true", "X=1")) for line in lines)
    (exec_line,) = [line for line in lines if line.startswith("Exec=")]
    assert "\\n" in exec_line and "\\r" in exec_line and "\\t" in exec_line
