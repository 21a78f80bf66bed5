#!/usr/bin/env bash
# Pack a built app folder with the .desktop file, the icons and install.sh:
#   packaging/linux/make_tarball.sh APP_DIR OUT_DIR VERSION   -> prints the tarball's path
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 APP_DIR OUT_DIR VERSION" >&2
    exit 2
fi
app="$1"; out="$2"; version="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RESOURCES="$(dirname "$(dirname "$HERE")")/resources"
for exe in cchub-desktop cchub; do
    if [ ! -x "$app/$exe" ]; then
        echo "$app/$exe is missing: build the app first (packaging/build.sh)" >&2
        exit 1
    fi
done

name="cchub-desktop-$version-linux-$(uname -m)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/share/applications" "$root/share/icons/hicolor/scalable/apps"
cp -a "$app" "$root/app"
cp "$RESOURCES/cchub-desktop.desktop" "$root/share/applications/"
cp "$RESOURCES/icons/cchub-desktop.svg" "$root/share/icons/hicolor/scalable/apps/"
for png in "$RESOURCES"/icons/cchub-desktop-[0-9]*.png; do
    size="${png##*-}"; size="${size%.png}"
    mkdir -p "$root/share/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$root/share/icons/hicolor/${size}x${size}/apps/cchub-desktop.png"
done
cp "$HERE/install.sh" "$root/install.sh"
chmod 755 "$root/install.sh"
cp "$HERE/INSTALL.txt" "$root/INSTALL.txt"

mkdir -p "$out"
tarball="$(cd "$out" && pwd)/$name.tar.gz"
tar -C "$stage" -czf "$tarball" "$name"
echo "$tarball"
