"""A built bundle (packaging/build.sh) holds what the app needs and not what was trimmed.

Runs only against a build named by CCHUB_FROZEN_APP (packaging/smoke.sh sets it):

    CCHUB_FROZEN_APP=dist/cchub-desktop pytest tests/test_packaging_frozen.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import cchub_desktop
from cchub_desktop.resources import APP_ICON_SIZES, TRAY_ICON_SIZES, TrayState

REPO = Path(__file__).resolve().parent.parent
FROZEN = os.environ.get("CCHUB_FROZEN_APP", "")

pytestmark = pytest.mark.skipif(not FROZEN, reason="no frozen build named (set CCHUB_FROZEN_APP=dist/cchub-desktop)")


@pytest.fixture(scope="module")
def bundle() -> Path:
    app = Path(FROZEN).resolve()
    assert (app / "cchub-desktop").is_file(), f"{app} is not a build of packaging/cchub-desktop.spec"
    return app


def internal(bundle: Path) -> Path:
    return bundle / "_internal" if (bundle / "_internal").is_dir() else bundle


def frozen_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["CCHUB_HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_both_programs_share_one_folder(bundle: Path) -> None:
    suffix = ".exe" if sys.platform == "win32" else ""
    for name in ("cchub-desktop", "cchub"):
        assert os.access(bundle / f"{name}{suffix}", os.X_OK), name
    assert len([p for p in bundle.iterdir() if p.is_dir()]) == 1  # one shared _internal


def test_every_icon_and_the_desktop_file_are_bundled(bundle: Path) -> None:
    resources = internal(bundle) / "resources"
    for size in APP_ICON_SIZES:
        assert (resources / "icons" / f"cchub-desktop-{size}.png").is_file()
    for state in TrayState:
        for size in TRAY_ICON_SIZES:
            assert (resources / "icons" / f"tray-{state.value}-{size}.png").is_file()
    assert (resources / "cchub-desktop.desktop").is_file()


def test_unused_qt_modules_gtk_and_test_tools_are_left_out(bundle: Path) -> None:
    names = {p.name for p in internal(bundle).rglob("*")}
    for unwanted in ("QtQml", "QtQuick", "QtWebEngine", "QtPdf", "QtMultimedia", "Qt3D", "libgtk-3", "tkinter"):
        assert not [n for n in names if unwanted in n], unwanted
    assert not (internal(bundle) / "pytest").exists()
    assert not (internal(bundle) / "PySide6" / "Qt" / "translations").exists()


def test_the_bundle_carries_the_platform_and_svg_plugins(bundle: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("plugin file names checked for Linux only")
    plugins = internal(bundle) / "PySide6" / "Qt" / "plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
        "platformthemes/libqxdgdesktopportal.so",
    ):
        assert (plugins / plugin).is_file(), plugin


def test_the_command_line_runs_from_the_bundle(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [bundle / "cchub", "--version"],
        capture_output=True,
        text=True,
        env=frozen_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert cchub_desktop.__version__ in result.stdout


def test_the_window_app_passes_its_self_test(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [bundle / "cchub-desktop", "--self-test"],
        capture_output=True,
        text=True,
        env=frozen_env(tmp_path),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
