#!/bin/sh
# Install CommandCenter Hub for the current user (no root needed):
#   ./install.sh               app in ~/.local/lib/cchub-desktop, commands in ~/.local/bin,
#                              menu entry and icons in ~/.local/share
#   ./install.sh --uninstall   remove all of that again (your projects and settings stay)
#   PREFIX=/some/dir ./install.sh   install under another prefix instead of ~/.local
set -eu

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
APPDIR="$PREFIX/lib/cchub-desktop"
BINDIR="$PREFIX/bin"
APPLICATIONS="$PREFIX/share/applications"
ICONS="$PREFIX/share/icons/hicolor"
AUTOSTART="${XDG_CONFIG_HOME:-$HOME/.config}/autostart/cchub-desktop.desktop"

refresh_caches() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$APPLICATIONS" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$ICONS/index.theme" ]; then
        gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
    fi
}

uninstall() {
    rm -rf "$APPDIR"
    for exe in cchub-desktop cchub; do
        if [ -L "$BINDIR/$exe" ]; then rm -f "$BINDIR/$exe"; fi
    done
    rm -f "$APPLICATIONS/cchub-desktop.desktop"
    for icon in "$ICONS"/*/apps/cchub-desktop.png "$ICONS"/scalable/apps/cchub-desktop.svg; do
        if [ -f "$icon" ]; then rm -f "$icon"; fi
    done
    if [ -f "$AUTOSTART" ] && grep -q "$APPDIR" "$AUTOSTART"; then
        rm -f "$AUTOSTART"
        echo "Removed the start-at-login entry $AUTOSTART"
    fi
    refresh_caches
    echo "CommandCenter Hub is uninstalled."
    echo "Your projects, settings and logs are kept (see 'Where your data lives' in INSTALL.txt)."
}

install_app() {
    if [ ! -x "$HERE/app/cchub-desktop" ] || [ ! -x "$HERE/app/cchub" ]; then
        echo "error: $HERE/app does not hold the cchub-desktop and cchub programs." >&2
        echo "Run install.sh from the unpacked cchub-desktop-*-linux-*.tar.gz folder." >&2
        exit 1
    fi
    mkdir -p "$APPDIR" "$BINDIR" "$APPLICATIONS" "$ICONS"
    rm -rf "$APPDIR"
    cp -R "$HERE/app" "$APPDIR"
    ln -sfn "$APPDIR/cchub-desktop" "$BINDIR/cchub-desktop"
    ln -sfn "$APPDIR/cchub" "$BINDIR/cchub"
    (cd "$HERE/share/icons/hicolor" && find . -type f) | while read -r icon; do
        mkdir -p "$ICONS/$(dirname "$icon")"
        cp "$HERE/share/icons/hicolor/$icon" "$ICONS/$icon"
    done
    # The menu entry names the installed program by its full path: ~/.local/bin is not on every PATH.
    sed -e "s|^Exec=cchub-desktop|Exec=\"$APPDIR/cchub-desktop\"|" \
        -e "s|^TryExec=.*|TryExec=$APPDIR/cchub-desktop|" \
        "$HERE/share/applications/cchub-desktop.desktop" > "$APPLICATIONS/cchub-desktop.desktop"
    chmod 644 "$APPLICATIONS/cchub-desktop.desktop"
    refresh_caches
    echo "CommandCenter Hub is installed in $APPDIR"
    echo "Start it from your applications menu (CommandCenter Hub), or run: $BINDIR/cchub-desktop"
    case ":$PATH:" in
        *":$BINDIR:"*) ;;
        *) echo "Note: $BINDIR is not on your PATH; add it to use the 'cchub' command by name." ;;
    esac
}

case "${1:-}" in
    "") install_app ;;
    --uninstall) uninstall ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "unknown option: $1 (use --uninstall, or nothing to install)" >&2; exit 2 ;;
esac
