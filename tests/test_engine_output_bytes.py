"""Engine output that is not UTF-8, or one enormous line, neither kills the engine's CLI (broken pipe) nor
grows the log without bound: the log hands the CLI a real pipe and decodes leniently, and cuts long lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagger.provisioning._session import _resolve_stderr
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.logs import StackLog
from tests.cli_process import cchub_module
from tests.helpers import key_of, wait_for
from tests.test_cli_up import Up, add_project

WRITER = r"""
import sys
out = sys.stderr.buffer
out.write(b"before \xff\xfe bad bytes\n")
out.write(b"x" * (30 * 1024 * 1024) + b"\n")
out.write("after: caf\u00e9\n".encode())
out.flush()
"""


def test_bad_bytes_and_a_30_mb_line_reach_the_log_and_the_writer_exits_0(tmp_path: Path) -> None:
    log_file = tmp_path / "p.log"
    log = StackLog(log_file)
    stderr_target, drain = _resolve_stderr(log)   # what the SDK does with our log: our pipe, not its drain
    assert stderr_target is log and drain is None
    done = subprocess.run([sys.executable, "-c", WRITER], stderr=log, timeout=120, check=False)
    log.close()
    assert done.returncode == 0   # never a broken pipe
    texts = [line.text for line in log.lines()[1]]
    assert texts[0] == "before \ufffd\ufffd bad bytes"
    assert texts[1] == "x" * MAX_LINE + CUT
    assert texts[2] == "after: café"
    assert log_file.stat().st_size < 64 * 1024


def test_a_huge_line_already_in_a_log_file_is_cut_for_the_view(tmp_path: Path) -> None:
    from cchub_desktop.ui.log_history import read_history

    log_file = tmp_path / "old.log"
    log_file.write_text("2026-12-01 10:00:00,000 engine   " + "y" * (5 * 1024 * 1024) + "\n"
                        "2026-12-01 10:00:01,000 hub      done\n")
    history = read_history(log_file, 100)
    assert [line.text for line in history] == ["y" * MAX_LINE + CUT, "done"]


def test_cchub_up_with_engine_output_that_is_not_utf8_starts_and_logs_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    """The red-team scenario with the real SDK: the engine's CLI prints bytes that are not UTF-8. The start
    goes on (no broken pipe: the CLI is alive), the log shows `�` for them, and a stop ends it with 0."""
    fake_dagger_env.set(stderr_bytes="656e67696e652073617973fffe21")   # "engine says\xff\xfe!"
    add_project(project_dir, port_block, "A")
    up = Up(fake_dagger_env, "A")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C"), 90)
        assert up.proc.poll() is None, up.finish(10)
        log_file = app_paths().log_file(key_of("A"))
        assert "engine says\ufffd\ufffd!" in log_file.read_text(encoding="utf-8")
        stopped = cchub_module("stop", "A", env=fake_dagger_env.env())
        assert stopped.returncode == 0, stopped.stderr
        code, _, err = up.finish(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    assert code == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err
