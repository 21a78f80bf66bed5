"""The Linux tarball and its install.sh, and the platform icon files the PyInstaller spec uses.

These run without PyInstaller: the tarball is packed around a stand-in app folder (two shell
scripts). tests/test_packaging_frozen.py checks a real build when one exists.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from PySide6.QtGui import QImageReader
from PySide6.QtWidgets import QApplication

from cchub_desktop.resources import APP_ICON_SIZES, DESKTOP_FILE_ID
from tests.helpers import in_ci, skip_unless_tools

REPO = Path(__file__).resolve().parent.parent
MAKE_TARBALL = REPO / "packaging" / "linux" / "make_tarball.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the packaging scripts need bash")


def stand_in_app(folder: Path) -> Path:
    """An app folder shaped like PyInstaller's output, whose programs just say who they are."""
    app = folder / "cchub-desktop"
    (app / "_internal").mkdir(parents=True)
    for exe in ("cchub-desktop", "cchub"):
        path = app / exe
        path.write_text(f'#!/bin/sh\necho "{exe} $*"\n')
        path.chmod(0o755)
    return app


def desktop_file_validate() -> str | None:
    """The validator from desktop-file-utils; None where it is missing outside CI (in CI that fails)."""
    if shutil.which("desktop-file-validate") is None and in_ci():
        skip_unless_tools("desktop-file-validate", package="desktop-file-utils")
    return shutil.which("desktop-file-validate")


def run(args: list[str | Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, check=False, timeout=60)


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    app = stand_in_app(tmp_path / "dist")
    made = run([MAKE_TARBALL, app, tmp_path / "out", "9.8.7"])
    assert made.returncode == 0, made.stderr
    tarball = Path(made.stdout.strip())
    assert tarball.name.startswith("cchub-desktop-9.8.7-linux-") and tarball.name.endswith(".tar.gz")
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "unpacked", filter="tar")
    (root,) = (tmp_path / "unpacked").iterdir()
    return root


def user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    env.pop("PREFIX", None)
    return env


def test_tarball_holds_app_menu_entry_icons_and_instructions(unpacked: Path) -> None:
    assert os.access(unpacked / "app" / "cchub-desktop", os.X_OK)
    assert os.access(unpacked / "install.sh", os.X_OK)
    assert "./install.sh --uninstall" in (unpacked / "INSTALL.txt").read_text()
    assert (unpacked / "share" / "applications" / f"{DESKTOP_FILE_ID}.desktop").is_file()
    hicolor = unpacked / "share" / "icons" / "hicolor"
    for size in APP_ICON_SIZES:
        assert (hicolor / f"{size}x{size}" / "apps" / f"{DESKTOP_FILE_ID}.png").is_file()
    assert (hicolor / "scalable" / "apps" / f"{DESKTOP_FILE_ID}.svg").is_file()


def test_install_puts_a_working_menu_entry_in_the_users_local_share(unpacked: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    installed = run([unpacked / "install.sh"], env=user_env(home))
    assert installed.returncode == 0, installed.stderr
    local = home / ".local"
    assert "installed" in installed.stdout

    entry = local / "share" / "applications" / f"{DESKTOP_FILE_ID}.desktop"
    text = entry.read_text()
    program = local / "lib" / "cchub-desktop" / "cchub-desktop"
    assert f'Exec="{program}"' in text
    assert f"TryExec={program}\n" in text
    assert "Icon=cchub-desktop\n" in text
    assert os.access(program, os.X_OK)
    if validator := desktop_file_validate():
        validated = run([validator, entry])
        assert validated.returncode == 0, validated.stdout
    for size in APP_ICON_SIZES:
        assert (local / "share/icons/hicolor" / f"{size}x{size}/apps/cchub-desktop.png").is_file()

    cli = run([local / "bin" / "cchub", "--version"])
    assert cli.stdout.strip() == "cchub --version"
    assert (local / "bin" / "cchub-desktop").resolve() == program.resolve()


def test_uninstall_removes_the_app_but_keeps_the_users_projects(unpacked: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = user_env(home)
    assert run([unpacked / "install.sh"], env=env).returncode == 0
    data = home / ".local" / "share" / "cchub-desktop" / "projects.sqlite3"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"the user's projects")
    autostart = home / ".config" / "autostart" / f"{DESKTOP_FILE_ID}.desktop"
    autostart.parent.mkdir(parents=True)
    autostart.write_text(f"[Desktop Entry]\nExec={home}/.local/lib/cchub-desktop/cchub-desktop\n")

    removed = run([unpacked / "install.sh", "--uninstall"], env=env)
    assert removed.returncode == 0, removed.stderr
    local = home / ".local"
    assert not (local / "lib" / "cchub-desktop").exists()
    assert not (local / "bin" / "cchub").exists()
    assert not (local / "bin" / "cchub-desktop").exists()
    assert not (local / "share" / "applications" / f"{DESKTOP_FILE_ID}.desktop").exists()
    assert not list((local / "share" / "icons").rglob("cchub-desktop.*"))
    assert not autostart.exists()
    assert data.read_bytes() == b"the user's projects"
    assert "kept" in removed.stdout


def test_install_under_a_prefix_with_spaces(unpacked: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "my apps"
    env = user_env(tmp_path)
    env["PREFIX"] = str(prefix)
    assert run([unpacked / "install.sh"], env=env).returncode == 0
    entry = (prefix / "share" / "applications" / f"{DESKTOP_FILE_ID}.desktop").read_text()
    assert f'Exec="{prefix}/lib/cchub-desktop/cchub-desktop"' in entry
    if validator := desktop_file_validate():
        validated = run([validator, prefix / "share" / "applications" / "cchub-desktop.desktop"])
        assert validated.returncode == 0, validated.stdout


def test_install_from_an_incomplete_folder_says_what_to_do(unpacked: Path, tmp_path: Path) -> None:
    shutil.rmtree(unpacked / "app")
    result = run([unpacked / "install.sh"], env=user_env(tmp_path))
    assert result.returncode == 1
    assert "unpacked cchub-desktop-" in result.stderr
    assert not (tmp_path / ".local" / "lib" / "cchub-desktop").exists()


def test_tarball_of_a_missing_build_says_to_build_first(tmp_path: Path) -> None:
    result = run([MAKE_TARBALL, tmp_path / "nothing", tmp_path / "out", "1.0"])
    assert result.returncode == 1
    assert "packaging/build.sh" in result.stderr
    assert not (tmp_path / "out").exists()


def test_packaging_scripts_are_executable() -> None:
    for script in ("build.sh", "smoke.sh", "linux/make_tarball.sh", "linux/install.sh"):
        mode = (REPO / "packaging" / script).stat().st_mode
        assert mode & stat.S_IXUSR, script


@pytest.mark.parametrize(("suffix", "sizes"), [("ico", [16, 24, 32, 48, 64, 128, 256]), ("icns", None)])
def test_windows_and_macos_icon_files_hold_every_size(qapp: QApplication, suffix: str, sizes: list[int] | None) -> None:
    reader = QImageReader(str(REPO / "resources" / "icons" / f"{DESKTOP_FILE_ID}.{suffix}"))
    found = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        found.append(image.width())
    expected = sizes if sizes is not None else [s for s in APP_ICON_SIZES if s in (16, 32, 64, 128, 256, 512)]
    assert sorted(set(found)) == expected
