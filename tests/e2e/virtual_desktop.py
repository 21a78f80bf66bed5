"""A virtual desktop for end-to-end tests: Xvfb on a free display, openbox as window manager, trayer as the
system-tray host, driven with xdotool and read with xwininfo; screenshots with ImageMagick's `import`.

Skips (with the reason) when one of the programs is missing; CI installs them (Debian: xvfb openbox trayer
xdotool x11-utils imagemagick). Every program started here is ended so that it exits 0.
"""

from __future__ import annotations

import os
import random
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import skip_unless_tools

REQUIRED = ("Xvfb", "openbox", "trayer", "xdotool", "xwininfo", "import")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREEN = (1280, 800)
TRAY_HEIGHT = 24
_TREE_LINE = re.compile(r'^(?P<indent>\s*)(?P<id>0x[0-9a-f]+) (?:"(?P<name>.*?)"|\(has no name\)): '
                        r'\((?P<cls>[^)]*)\)\s+(?P<w>\d+)x(?P<h>\d+)\+-?\d+\+-?\d+\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)')


@dataclass(frozen=True)
class Window:
    id: int
    name: str
    wm_class: str
    x: int
    y: int
    width: int
    height: int

    @property
    def bottom_centre(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height - 2


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll with a deadline (end-to-end tests have no Qt loop of their own to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class VirtualDesktop:
    def __init__(self, display: str) -> None:
        self.display = display
        env = {k: v for k, v in os.environ.items()
               if k not in ("QT_QPA_PLATFORM", "DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY")}
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        self.env = env

    def run(self, *args: str, timeout: float = 20.0) -> str:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def tree(self) -> list[tuple[int, Window]]:
        """Every window as (depth, Window), from `xwininfo -root -tree`."""
        windows: list[tuple[int, Window]] = []
        for line in self.run("xwininfo", "-root", "-tree").splitlines():
            m = _TREE_LINE.match(line)
            if m:
                windows.append((len(m["indent"]), Window(int(m["id"], 16), m["name"] or "", m["cls"],
                                                         int(m["x"]), int(m["y"]), int(m["w"]), int(m["h"]))))
        return windows

    def tray_icons(self, wm_class: str) -> list[Window]:
        """Icons docked in trayer: windows of `wm_class` inside trayer's panel window."""
        icons: list[Window] = []
        panel_depth: int | None = None
        for depth, win in self.tree():
            if panel_depth is not None and depth <= panel_depth:
                panel_depth = None
            if '"trayer"' in win.wm_class and win.name == "panel":
                panel_depth = depth
            elif panel_depth is not None and f'"{wm_class}"' in win.wm_class and win.width > 1:
                icons.append(win)
        return icons

    def visible(self, wm_class: str) -> list[Window]:
        """Top-level windows of `wm_class` that are mapped now (menus, dialogs, main windows)."""
        try:
            out = self.run("xdotool", "search", "--onlyvisible", "--class", wm_class)
        except AssertionError:  # xdotool exits 1 when nothing matches
            return []
        found: list[Window] = []
        for wid in out.split():
            geo = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], env=self.env,
                                 capture_output=True, text=True, timeout=10)
            if geo.returncode != 0:  # gone between the search and now (a menu closing)
                continue
            values = dict(line.split("=", 1) for line in geo.stdout.splitlines() if "=" in line)
            found.append(Window(int(wid), "", wm_class, int(values["X"]), int(values["Y"]),
                                int(values["WIDTH"]), int(values["HEIGHT"])))
        return found

    def click(self, x: int, y: int, button: int = 1) -> None:
        self.run("xdotool", "mousemove", str(x), str(y), "click", str(button))

    def move_mouse(self, x: int, y: int) -> None:
        self.run("xdotool", "mousemove", str(x), str(y))

    def key(self, *keys: str) -> None:
        for key in keys:
            self.run("xdotool", "key", key)

    def screenshot(self, name: str, crop: tuple[int, int, int, int] | None = None) -> Path:
        """The whole screen (or the `crop` x, y, width, height of it) as test-artifacts/<name>."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        args = ["import", "-window", "root"]
        if crop is not None:
            x, y, w, h = crop
            args += ["-crop", f"{w}x{h}+{x}+{y}", "+repage"]
        self.run(*args, str(path), timeout=30)
        return path


def _display_free(number: int) -> bool:
    """No lock file and no listening socket for :number (the abstract socket is shared across /tmp mounts)."""
    if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
        return False
    if not sys.platform.startswith("linux"):
        return True
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(f"\0/tmp/.X11-unix/X{number}")
        except OSError:
            return False
    return True


def _read_line(fd: int, timeout: float) -> str:
    """Read up to the newline: Xvfb writes the number and the newline separately, and dies if the pipe is
    closed in between."""
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def _start_xvfb(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a free display number; -displayfd tells when it is ready. Retries another number if the one
    picked was taken meanwhile (Xvfb then exits at once). -noreset: the desktop stays as it is when the last
    client leaves."""
    rng = random.Random()
    for _attempt in range(8):
        number = rng.randrange(100, 3000)
        if not _display_free(number):
            continue
        read_fd, write_fd = os.pipe()
        with log.open("ab") as err:
            try:
                xvfb = subprocess.Popen(["Xvfb", f":{number}", "-displayfd", str(write_fd), "-screen", "0",
                                         f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp", "-noreset"],
                                        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=err)
            finally:
                os.close(write_fd)
        try:
            reported = _read_line(read_fd, timeout=20)
        finally:
            os.close(read_fd)
        if reported == str(number) and xvfb.poll() is None:
            return xvfb, f":{number}"
        if xvfb.poll() is None:
            xvfb.terminate()
        xvfb.wait(10)
    raise RuntimeError(f"Xvfb could not start on a free display; its messages: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def virtual_desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualDesktop]:
    skip_unless_tools(*REQUIRED, package="xvfb openbox trayer xdotool x11-utils imagemagick")
    xvfb, display = _start_xvfb(tmp_path_factory.mktemp("xvfb") / "xvfb.log")
    desk = VirtualDesktop(display)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": desk.env}
    openbox = trayer = None
    try:
        wait_until(lambda: subprocess.run(["xdotool", "getdisplaygeometry"], env=desk.env,
                                          capture_output=True, timeout=10).returncode == 0, 20, "the X server")
        openbox = subprocess.Popen(["openbox"], **quiet)  # type: ignore[call-overload]
        trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
                                   "--width", "160", "--height", str(TRAY_HEIGHT), "--transparent", "false"],
                                  **quiet)  # type: ignore[call-overload]
        wait_until(lambda: any(w.name == "panel" and '"trayer"' in w.wm_class for _d, w in desk.tree()),
                   20, "trayer's panel")
        yield desk
    finally:
        codes: dict[str, int | None] = {}
        if trayer is not None:
            # trayer exits 0 when its windows go away (a signal would end it with -15)
            for wid in subprocess.run(["xdotool", "search", "--class", "trayer"], env=desk.env,
                                      capture_output=True, text=True, timeout=10).stdout.split():
                subprocess.run(["xdotool", "windowclose", wid], env=desk.env, capture_output=True, timeout=10)
            codes["trayer"] = _wait_or_kill(trayer)
        if openbox is not None:
            subprocess.run(["openbox", "--exit"], env=desk.env, capture_output=True, timeout=10)
            codes["openbox"] = _wait_or_kill(openbox)
        xvfb.terminate()
        codes["Xvfb"] = _wait_or_kill(xvfb)
        bad = {name: code for name, code in codes.items() if code != 0}
        assert not bad, f"virtual desktop programs did not exit 0: {bad}"


def _wait_or_kill(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
        return None
