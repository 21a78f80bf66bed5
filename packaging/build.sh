#!/usr/bin/env bash
# Build CommandCenter Hub with PyInstaller: dist/cchub-desktop/ (one folder, two executables:
# cchub-desktop and cchub) and, on Linux, dist/cchub-desktop-<version>-linux-<arch>.tar.gz with
# the .desktop file, the icons and install.sh.
#
#   packaging/build.sh                 # uses $PYTHON, else .venv/bin/python, else python3
#   CLEAN=1 packaging/build.sh         # forget PyInstaller's cache first
#   CCHUB_BUILD_NO_TRIM=1 packaging/build.sh   # keep every Qt module (to measure the trim)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
DIST="${DIST:-$REPO/dist}"
WORK="${WORK:-$REPO/build/pyinstaller}"

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "PyInstaller is not installed for $PYTHON. Install the dev extras: pip install -e '.[dev]'" >&2
    exit 1
fi
if ! "$PYTHON" "$HERE/render_icons.py" --check; then
    echo "The icons are out of date; run: $PYTHON packaging/render_icons.py" >&2
    exit 1
fi

clean_flag=()
if [ "${CLEAN:-0}" = 1 ]; then clean_flag=(--clean); fi

started=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm "${clean_flag[@]}" --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$HERE/cchub-desktop.spec"
app="$DIST/cchub-desktop"
echo "built $app in $(( $(date +%s) - started ))s; $(du -sh "$app" | cut -f1) on disk"

if [ "$(uname -s)" = Linux ]; then
    version="$("$PYTHON" -c 'import cchub_desktop; print(cchub_desktop.__version__)')"
    tarball="$("$HERE/linux/make_tarball.sh" "$app" "$DIST" "$version")"
    echo "tarball $tarball ($(du -h "$tarball" | cut -f1))"
fi
