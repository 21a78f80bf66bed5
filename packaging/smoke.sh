#!/usr/bin/env bash
# Smoke test of the frozen app. Builds it (packaging/build.sh; SKIP_BUILD=1 uses dist/ as it is),
# then, with nothing but the bundle:
#   1. cchub --version
#   2. cchub-desktop --self-test, offscreen, and under Xvfb with the xcb platform when Xvfb exists;
#      there also the window's WM_CLASS against the .desktop file's StartupWMClass, and SIGTERM -> exit 0
#   3. cchub add + cchub up NAME against the test engine in tests/fake_dagger/ (the real dagger-io
#      SDK in the bundle runs it as its CLI): wait for the frontend port to answer HTTP, SIGTERM,
#      expect exit 0, the port free again and every engine session ended
#   3b. the window's runner, `cchub up --runner NAME`, then `cchub stop NAME`: exit 0, recorded stopped
#   4. tests/test_packaging_frozen.py on the bundle (what is in it, what was trimmed)
#   5. the Linux tarball's install.sh into a scratch HOME, then the installed cchub --version
# Prints the time of each step and the bundle size. Exit 0 only if every step passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DIST="${DIST:-$REPO/dist}"
APP="$DIST/cchub-desktop"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
TIMEOUT="${SMOKE_TIMEOUT:-90}"  # seconds for the stack to come up, and again to stop

work="$(mktemp -d)"
up_pid=""
cleanup() {
    if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then kill -KILL "$up_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
step_started=$t0
report=()
step() { step_started=$(date +%s); echo "== $*"; }
done_step() { report+=("$(printf '%-48s %4ss' "$1" "$(( $(date +%s) - step_started ))")"); }
fail() {
    echo "SMOKE FAILED: $*" >&2
    for f in "$work"/*.out "$work"/home/logs/*.log; do
        if [ -f "$f" ]; then echo "--- $f" >&2; tail -n 40 "$f" >&2; fi
    done
    exit 1
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    step "build"
    "$HERE/build.sh"
    done_step "build (PyInstaller + tarball)"
fi
[ -x "$APP/cchub" ] && [ -x "$APP/cchub-desktop" ] || fail "no build in $APP (run packaging/build.sh)"

# The frozen programs must not lean on the development environment.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV DAGGER_SESSION_PORT DAGGER_SESSION_TOKEN _EXPERIMENTAL_DAGGER_RUNNER_HOST
export CCHUB_HOME="$work/home" QT_QPA_PLATFORM=offscreen

step "cchub --version"
version="$("$APP/cchub" --version)" || fail "cchub --version exited $?"
expected="$("$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); import cchub_desktop; print(cchub_desktop.__version__)' "$REPO")"
[[ "$version" == *"$expected"* ]] || fail "cchub --version said '$version', expected $expected"
done_step "cchub --version"

step "cchub-desktop --self-test (offscreen)"
"$APP/cchub-desktop" --self-test > "$work/selftest.out" 2>&1 || fail "cchub-desktop --self-test exited $?"
if grep -qiE "could not (load|find) the qt platform plugin|cannot load library|ModuleNotFoundError" "$work/selftest.out"; then
    fail "the self-test printed a loading error"
fi
done_step "cchub-desktop --self-test (offscreen)"

if command -v xvfb-run >/dev/null 2>&1; then
    step "cchub-desktop --self-test (xcb under Xvfb)"
    QT_QPA_PLATFORM=xcb xvfb-run -a "$APP/cchub-desktop" --self-test > "$work/selftest-xcb.out" 2>&1 \
        || fail "cchub-desktop --self-test under Xvfb exited $?"
    grep -qiE "could not (load|find) the qt platform plugin" "$work/selftest-xcb.out" && fail "xcb plugin did not load"
    done_step "cchub-desktop --self-test (xcb under Xvfb)"
    if command -v xdotool >/dev/null 2>&1 && command -v xprop >/dev/null 2>&1; then
        step "window WM_CLASS matches the .desktop file (Xvfb)"
        # Launchers group windows under the menu entry by StartupWMClass; SIGTERM must quit with 0.
        QT_QPA_PLATFORM=xcb CCHUB_HOME="$work/home-x" xvfb-run -a bash -c '
            "$1" > "$2/window.out" 2>&1 &
            pid=$!
            for _ in $(seq 1 150); do
                wid=$(xdotool search --onlyvisible --pid "$pid" 2>/dev/null | head -n 1)
                [ -n "$wid" ] && break
                sleep 0.2
            done
            [ -n "$wid" ] && xprop -id "$wid" WM_CLASS > "$2/wmclass.out"
            kill -TERM "$pid"
            wait "$pid"' _ "$APP/cchub-desktop" "$work" || fail "cchub-desktop did not exit 0 on SIGTERM"
        wm_class="$(grep -o '"[^"]*"$' "$work/wmclass.out" 2>/dev/null | tr -d '"')"
        wanted="$(sed -n 's/^StartupWMClass=//p' "$REPO/resources/cchub-desktop.desktop")"
        [ "$wm_class" = "$wanted" ] || fail "window WM_CLASS class is '$wm_class', the .desktop file says '$wanted'"
        done_step "window WM_CLASS = StartupWMClass (Xvfb)"
    fi
else
    echo "(xvfb-run not found: skipping the xcb self-test; Debian package xvfb)"
fi

step "cchub add + up + SIGTERM (test engine)"
export _EXPERIMENTAL_DAGGER_CLI_BIN="$REPO/tests/fake_dagger/dagger"
export FAKE_DAGGER_PYTHON="$PYTHON" FAKE_DAGGER_JOURNAL_DIR="$work/journal"
[ -x "$_EXPERIMENTAL_DAGGER_CLI_BIN" ] || fail "the test engine $_EXPERIMENTAL_DAGGER_CLI_BIN is missing"
mkdir -p "$work/project" "$work/journal"
echo "smoke test project" > "$work/project/README.md"
# Four ports free right now on 127.0.0.1 and 0.0.0.0, away from the defaults other tests use.
read -r backend frontend postgres redis < <("$PYTHON" - <<'EOF'
import random, socket
def free(port):
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True
picked = []
while len(picked) < 4:
    port = random.randrange(20000, 30000)
    if port not in picked and free(port):
        picked.append(port)
print(*picked)
EOF
)
"$APP/cchub" add smoke "$work/project" --backend-port "$backend" --frontend-port "$frontend" \
    --postgres-port "$postgres" --redis-port "$redis" > "$work/add.out" 2>&1 || fail "cchub add exited $?"
up_started=$(date +%s)
"$APP/cchub" up smoke > "$work/up.out" 2>&1 &
up_pid=$!
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -fs -o /dev/null "http://127.0.0.1:$frontend/" 2>/dev/null; do
    kill -0 "$up_pid" 2>/dev/null || { wait "$up_pid" || true; fail "cchub up ended before the frontend answered"; }
    [ "$(date +%s)" -lt "$deadline" ] || fail "the frontend on port $frontend did not answer within ${TIMEOUT}s"
    sleep 0.2
done
up_seconds=$(( $(date +%s) - up_started ))
curl -fsS "http://127.0.0.1:$backend/health" | grep -q healthy || fail "backend /health did not answer healthy"
kill -TERM "$up_pid"
deadline=$(( $(date +%s) + TIMEOUT ))
while kill -0 "$up_pid" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "cchub up did not exit within ${TIMEOUT}s of SIGTERM"
    sleep 0.2
done
set +e
wait "$up_pid"
up_rc=$?
set -e
up_pid=""
[ "$up_rc" = 0 ] || fail "cchub up exited $up_rc after SIGTERM (expected 0)"
grep -q "stopped" "$work/up.out" || fail "cchub up did not say it stopped"
"$PYTHON" - "$frontend" "$backend" <<'EOF' || fail "a port is still held after cchub up exited"
import socket, sys
for port in map(int, sys.argv[1:]):
    with socket.socket() as s:
        s.bind(("0.0.0.0", port))
EOF
"$PYTHON" - "$REPO/tests" "$work/journal" <<'EOF' || fail "an engine session outlived cchub up"
import sys
sys.path.insert(0, sys.argv[1])
from fake_dagger.journal import Journal
journal = Journal(sys.argv[2])
sessions = journal.sessions()
assert sessions, "no engine session was started"
journal.wait_sessions_exited(15)
assert all(s.ended_cleanly for s in sessions), [s.end_reason for s in sessions]
EOF
"$APP/cchub" list | grep -E "^smoke +stopped" > /dev/null || fail "the project is not recorded as stopped"
done_step "cchub add + up + SIGTERM (test engine; up ${up_seconds}s)"

step "the window's runner (cchub up --runner) + cchub stop"
# what the frozen window starts for a project (runner_control.runner_command), stopped as a user would
"$APP/cchub" up --runner smoke > "$work/runner.out" 2>&1 &
runner_pid=$!
deadline=$(( $(date +%s) + TIMEOUT ))
until "$APP/cchub" list | grep -E "^smoke +running" > /dev/null; do
    kill -0 "$runner_pid" 2>/dev/null || { wait "$runner_pid" || true; fail "the runner ended before running: $(cat "$work/runner.out")"; }
    [ "$(date +%s)" -lt "$deadline" ] || fail "the runner was not running within ${TIMEOUT}s"
    sleep 0.2
done
"$APP/cchub" status smoke | grep -q "in the CommandCenter Hub's runner (pid $runner_pid)" \
    || fail "cchub status does not name the runner: $("$APP/cchub" status smoke)"
"$APP/cchub" stop smoke > "$work/stop.out" 2>&1 || fail "cchub stop exited $?: $(cat "$work/stop.out")"
set +e
wait "$runner_pid"
runner_rc=$?
set -e
[ "$runner_rc" = 0 ] || fail "the runner exited $runner_rc after cchub stop (expected 0)"
"$APP/cchub" list | grep -E "^smoke +stopped" > /dev/null || fail "the project is not recorded as stopped"
done_step "the window's runner (cchub up --runner) + cchub stop"

step "bundle contents (tests/test_packaging_frozen.py)"
CCHUB_FROZEN_APP="$APP" "$PYTHON" -m pytest -q -p no:cacheprovider "$REPO/tests/test_packaging_frozen.py" \
    > "$work/frozen-tests.out" 2>&1 || fail "tests/test_packaging_frozen.py failed"
done_step "bundle contents (tests/test_packaging_frozen.py)"

if [ "$(uname -s)" = Linux ]; then
    step "tarball install.sh"
    tarball="$(ls -t "$DIST"/cchub-desktop-*-linux-*.tar.gz 2>/dev/null | head -n 1)"
    [ -n "$tarball" ] || fail "no tarball in $DIST"
    mkdir -p "$work/unpack" "$work/user"
    tar -C "$work/unpack" -xzf "$tarball"
    HOME="$work/user" "$work"/unpack/*/install.sh > "$work/install.out" 2>&1 || fail "install.sh exited $?"
    "$work/user/.local/bin/cchub" --version | grep -q "$expected" || fail "the installed cchub does not run"
    [ -f "$work/user/.local/share/applications/cchub-desktop.desktop" ] || fail "no menu entry installed"
    HOME="$work/user" "$work"/unpack/*/install.sh --uninstall > "$work/uninstall.out" 2>&1 || fail "uninstall failed"
    done_step "tarball install.sh + uninstall"
fi

echo
echo "smoke test passed"
printf '  %s\n' "${report[@]}"
printf '  %-48s %4ss\n' "total" "$(( $(date +%s) - t0 ))"
echo "  bundle: $(du -sh "$APP" | cut -f1) ($(du -sb "$APP" | cut -f1) bytes)"
