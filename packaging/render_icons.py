"""Render the PNG icons from the SVG sources and refresh the package copy of resources/.

    python packaging/render_icons.py          # render PNGs into resources/icons, sync cchub_desktop/assets
    python packaging/render_icons.py --check  # exit 1 if a PNG is missing or the package copy is stale

``resources/`` is the source of truth (SVGs, PNGs, the .desktop file; also the Windows .ico and
the macOS .icns assembled from the PNGs, which only the PyInstaller spec uses). ``cchub_desktop/assets/`` is
a byte-for-byte copy that ships inside the wheel (package data cannot reach outside the package);
see packaging/README.md. Rendering uses Qt's own SVG renderer (QtSvg), the one the app runs with.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "resources"
PACKAGE_COPY = REPO / "cchub_desktop" / "assets"

# Sizes up to this edge use the hand-fitted "-small" variant of the app icon, if one exists.
SMALL_VARIANT_MAX = 16


def planned_pngs() -> dict[Path, Path]:
    """PNG to write (relative to resources/) -> SVG to render it from (relative to resources/)."""
    from cchub_desktop.resources import APP_ICON_SIZES, DESKTOP_FILE_ID, TRAY_ICON_SIZES, TrayState

    plan: dict[Path, Path] = {}
    icons = Path("icons")
    small = icons / f"{DESKTOP_FILE_ID}-small.svg"
    for size in APP_ICON_SIZES:
        use_small = size <= SMALL_VARIANT_MAX and (SOURCE / small).is_file()
        master = small if use_small else icons / f"{DESKTOP_FILE_ID}.svg"
        plan[icons / f"{DESKTOP_FILE_ID}-{size}.png"] = master
    for state in TrayState:
        for size in TRAY_ICON_SIZES:
            plan[icons / f"tray-{state.value}-{size}.png"] = icons / f"tray-{state.value}.svg"
    return plan


def packaged_files() -> list[Path]:
    """Files (relative to resources/) the app reads at run time: everything but working notes."""
    return sorted(
        p.relative_to(SOURCE)
        for p in SOURCE.rglob("*")
        if p.is_file() and p.suffix in {".png", ".svg", ".desktop"} and not p.stem.endswith("-small")
    )


def render(svg: Path, png: Path, size: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG for Qt's renderer; fix the file and run again.")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    png.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(png)):
        raise SystemExit(f"could not write {png}")


def render_all() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    count = 0
    for png, svg in planned_pngs().items():
        size = int(png.stem.rsplit("-", 1)[1])
        render(SOURCE / svg, SOURCE / png, size)
        count += 1
    del app
    return count


ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Apple icon types that hold PNG data, by the pixel edge they hold (some types share an edge).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"icp6", 64),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),
    (b"ic09", 512),
    (b"ic14", 512),
)


def write_ico(pngs: dict[int, bytes], target: Path) -> None:
    """A Windows .ico holding PNG images (the format since Windows Vista)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        edge = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", edge, edge, 0, 0, 1, 32, len(data), offset + len(blobs))
        blobs += data
    target.write_bytes(header + entries + blobs)


def write_icns(pngs: dict[int, bytes], target: Path) -> None:
    """A macOS .icns holding PNG images, for the .app bundle."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES if size in pngs
    )
    target.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)


def write_platform_icons() -> None:
    from cchub_desktop.resources import APP_ICON_SIZES, DESKTOP_FILE_ID

    icons = SOURCE / "icons"
    pngs = {size: (icons / f"{DESKTOP_FILE_ID}-{size}.png").read_bytes() for size in APP_ICON_SIZES}
    write_ico(pngs, icons / f"{DESKTOP_FILE_ID}.ico")
    write_icns(pngs, icons / f"{DESKTOP_FILE_ID}.icns")


def sync_package_copy() -> None:
    wanted = set(packaged_files())
    if PACKAGE_COPY.exists():
        for old in PACKAGE_COPY.rglob("*"):
            if old.is_file() and old.relative_to(PACKAGE_COPY) not in wanted:
                old.unlink()
    for rel in wanted:
        target = PACKAGE_COPY / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE / rel, target)


def problems() -> list[str]:
    """What is out of date: missing PNGs, or a package copy that differs from resources/."""
    found = [f"missing {SOURCE.name}/{png}" for png in planned_pngs() if not (SOURCE / png).is_file()]
    found += [
        f"missing {SOURCE.name}/icons/{name}"
        for name in ("cchub-desktop.ico", "cchub-desktop.icns")
        if not (SOURCE / "icons" / name).is_file()
    ]
    wanted = set(packaged_files())
    for rel in sorted(wanted):
        copy = PACKAGE_COPY / rel
        if not copy.is_file():
            found.append(f"missing package copy cchub_desktop/assets/{rel}")
        elif not filecmp.cmp(SOURCE / rel, copy, shallow=False):
            found.append(f"stale package copy cchub_desktop/assets/{rel}")
    if PACKAGE_COPY.exists():
        found += [
            f"extra file cchub_desktop/assets/{p.relative_to(PACKAGE_COPY)}"
            for p in sorted(PACKAGE_COPY.rglob("*"))
            if p.is_file() and p.relative_to(PACKAGE_COPY) not in wanted
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print("Run: python packaging/render_icons.py", file=sys.stderr)
        return 1 if found else 0
    count = render_all()
    write_platform_icons()
    sync_package_copy()
    synced = len(packaged_files())
    print(f"rendered {count} PNGs into resources/icons; copied {synced} files to cchub_desktop/assets")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
