"""Bundled icons and the .desktop file: found in every way the app runs, and fit for use."""

from __future__ import annotations

import configparser
import fnmatch
import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from cchub_desktop import resources
from cchub_desktop.resources import (
    APP_ICON_SIZES,
    DESKTOP_FILE_ID,
    TRAY_ICON_SIZES,
    ResourceNotFoundError,
    TrayState,
)
from tests.helpers import skip_unless_tools

REPO = Path(__file__).resolve().parent.parent


def load_render_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_icons", REPO / "packaging" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- lookup -----------------------------------------------------------------------------------


def test_from_the_package_every_icon_and_the_desktop_file_are_found() -> None:
    # A source checkout, an editable install and a wheel all read the package's own assets/ folder.
    assert resources.resources_dir() == Path(resources.__file__).resolve().parent / "assets"
    assert set(resources.app_icon_pngs()) == set(APP_ICON_SIZES)
    for state in TrayState:
        assert set(resources.tray_icon_pngs(state)) == set(TRAY_ICON_SIZES)
        assert resources.tray_icon_svg(state).is_file()
    assert resources.app_icon_svg().is_file()
    assert resources.desktop_file().read_text(encoding="utf-8").startswith("[Desktop Entry]")


def test_frozen_app_reads_its_files_from_the_pyinstaller_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "_internal"
    shutil.copytree(REPO / "resources", bundle / "resources")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)

    assert resources.resources_dir() == bundle / "resources"
    assert resources.app_icon_pngs()[48] == bundle / "resources" / "icons" / f"{DESKTOP_FILE_ID}-48.png"
    assert resources.desktop_file() == bundle / "resources" / f"{DESKTOP_FILE_ID}.desktop"


def test_a_missing_file_says_what_is_missing_and_to_reinstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "resources").mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)

    with pytest.raises(ResourceNotFoundError) as caught:
        resources.tray_icon_pngs(TrayState.RUNNING)
    message = str(caught.value)
    assert "tray-running-16.png" in message
    assert str(tmp_path / "resources") in message
    assert "reinstall" in message
    assert isinstance(caught.value, FileNotFoundError)


def test_resource_names_cannot_escape_the_bundle() -> None:
    with pytest.raises(ValueError):
        resources.resource_path("../pyproject.toml")
    with pytest.raises(ValueError):
        resources.resource_path(str(REPO / "pyproject.toml"))


def test_unknown_tray_state_is_rejected() -> None:
    with pytest.raises(ValueError):
        resources.tray_icon_pngs("sleeping")


# --- the package copy that ships in the wheel ------------------------------------------------


def test_package_copy_matches_resources_and_no_png_is_missing() -> None:
    problems = load_render_script().problems()
    assert problems == [], "run: python packaging/render_icons.py"


def test_wheel_package_data_patterns_cover_every_asset() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["cchub_desktop"]
    package = REPO / "cchub_desktop"
    assets = [p.relative_to(package).as_posix() for p in (package / "assets").rglob("*") if p.is_file()]
    assert assets
    uncovered = [a for a in assets if not any(fnmatch.fnmatch(a, pattern) for pattern in patterns)]
    assert uncovered == []


# --- the icons themselves ----------------------------------------------------------------------


def test_every_png_has_the_pixel_size_its_name_says() -> None:
    files = {**resources.app_icon_pngs()}
    for size, path in files.items():
        image = QImage(str(path))
        assert not image.isNull(), path
        assert (image.width(), image.height()) == (size, size), path
    for state in TrayState:
        for size, path in resources.tray_icon_pngs(state).items():
            image = QImage(str(path))
            assert (image.width(), image.height()) == (size, size), path


def test_app_icon_offers_every_size(qapp: QApplication) -> None:
    from cchub_desktop.ui.icons import app_icon

    icon = app_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} >= set(APP_ICON_SIZES)
    assert icon.pixmap(QSize(32, 32)).size() == QSize(32, 32)


def _badge_colours(image: QImage) -> list[QColor]:
    """Saturated, opaque pixels in the lower-right quarter, where the status badge sits."""
    size = image.width()
    found: list[QColor] = []
    for y in range(size // 2, size):
        for x in range(size // 2, size):
            colour = image.pixelColor(x, y)
            if colour.alpha() > 200 and colour.hsvSaturation() > 120 and colour.value() > 120:
                found.append(colour)
    return found


def _count_hue(colours: list[QColor], low: int, high: int) -> int:
    return sum(1 for c in colours if low <= c.hsvHue() <= high)


GREEN, AMBER, RED = (90, 160), (25, 55), (0, 12)


@pytest.mark.parametrize("size", TRAY_ICON_SIZES)
def test_tray_icons_show_the_state_in_colour_at_every_size(qapp: QApplication, size: int) -> None:
    from cchub_desktop.ui.icons import tray_icon

    badges = {}
    for state in TrayState:
        icon = tray_icon(state)
        assert not icon.isNull()
        image = icon.pixmap(QSize(size, size)).toImage()
        assert image.width() == size
        badges[state] = _badge_colours(image)
    minimum = max(3, size * size // 40)  # a badge the eye can find, not a stray pixel
    assert _count_hue(badges[TrayState.RUNNING], *GREEN) >= minimum
    assert _count_hue(badges[TrayState.STARTING], *AMBER) >= minimum
    assert _count_hue(badges[TrayState.ERROR], *RED) >= minimum
    for colour_range in (GREEN, AMBER, RED):
        assert _count_hue(badges[TrayState.IDLE], *colour_range) == 0
    assert _count_hue(badges[TrayState.RUNNING], *RED) == 0
    assert _count_hue(badges[TrayState.ERROR], *GREEN) == 0


def test_app_identity_matches_the_desktop_file(qapp: QApplication) -> None:
    from cchub_desktop.ui.icons import install_app_identity

    saved = (qapp.applicationName(), qapp.applicationDisplayName(), qapp.desktopFileName())
    try:
        install_app_identity(qapp)
        entry = read_desktop_entry()
        assert qapp.applicationName() == entry["StartupWMClass"]
        assert qapp.desktopFileName() == entry["Icon"] == DESKTOP_FILE_ID
        assert qapp.applicationDisplayName() == entry["Name"]
        assert not qapp.windowIcon().isNull()
    finally:
        qapp.setApplicationName(saved[0])
        qapp.setApplicationDisplayName(saved[1])
        qapp.setDesktopFileName(saved[2])


# --- the .desktop file -------------------------------------------------------------------------


def read_desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(REPO / "resources" / f"{DESKTOP_FILE_ID}.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_launches_the_gui_script_with_the_app_icon() -> None:
    entry = read_desktop_entry()
    gui_scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["gui-scripts"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "CommandCenter Hub"
    assert entry["Exec"].split()[0] in gui_scripts
    assert entry["Icon"] == DESKTOP_FILE_ID
    assert entry["StartupWMClass"] == DESKTOP_FILE_ID
    assert entry["Terminal"] == "false"
    assert "Development" in entry["Categories"].split(";")
    assert entry["Keywords"].endswith(";") and "Dagger" in entry["Keywords"].split(";")
    assert entry["Comment"]


def test_desktop_file_passes_desktop_file_validate() -> None:
    skip_unless_tools("desktop-file-validate", package="desktop-file-utils")
    result = subprocess.run(
        ["desktop-file-validate", str(REPO / "resources" / f"{DESKTOP_FILE_ID}.desktop")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""  # no hints or warnings either
