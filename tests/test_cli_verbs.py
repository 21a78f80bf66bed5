"""`cchub logs`, `cchub open`, `cchub restart`, relative folders in `cchub add`, and output into a closed pipe,
each run as a user runs it: the installed entry point in its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.paths import app_paths
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.store import ProjectStore
from tests.cli_process import cchub, start_cchub
from tests.helpers import LineReader, wait_for
from tests.lease_holder import LeaseHolder

CCHUB = Path(sys.executable).with_name("cchub")


def add(name: str, folder: Path, block: FreePortBlock | None = None) -> tuple[str, int, int]:
    """(data key, frontend port, backend port) of a new project."""
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    try:
        ports = {f"{k}_port": v for k, v in block.as_dict().items()} if block else {}
        project = store.add(name, folder, **ports)  # type: ignore[arg-type]
        return project.data_key, project.frontend_port, project.backend_port
    finally:
        store.close()


def one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("cchub") and expected in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ----- add with a relative folder -----------------------------------------------------------------------------

def test_add_resolves_a_relative_folder_against_the_current_one(project_dir: Path) -> None:
    env = dict(os.environ)
    here = subprocess.run([str(CCHUB), "add", "Here", "."], cwd=project_dir, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert here.returncode == 0, here.stderr
    beside = subprocess.run([str(CCHUB), "add", "Beside", f"../{project_dir.name}/"], cwd=project_dir,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert beside.returncode == 0, beside.stderr
    listed = json.loads(cchub("list", "--json").stdout)
    assert [(p["name"], p["path"]) for p in listed] == [("Beside", str(project_dir.resolve())),
                                                        ("Here", str(project_dir.resolve()))]
    missing = subprocess.run([str(CCHUB), "add", "Gone", "no-such-folder"], cwd=project_dir, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    one_line_error(missing, f"Folder '{project_dir / 'no-such-folder'}' does not exist.")


# ----- output into a closed pipe ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["list", "--json"], ["list"], ["logs", "Demo"], ["--help"]],
                         ids=["list-json", "list", "logs", "help"])
def test_output_into_a_closed_pipe_ends_quietly(argv: list[str], project_dir: Path) -> None:
    data_key, _, _ = add("Demo", project_dir)
    log = StackLog(app_paths().logs_dir / f"{data_key}.log")
    for n in range(3000):   # far more than a pipe holds
        log.note(f"line {n}", service="backend")
    log.close()
    # the reader is gone before the first write: every write fails (`cchub list --json | head -1` when head
    # has already exited)
    proc = subprocess.Popen([str(CCHUB), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == 0
    assert err == ""


def test_list_json_into_head_prints_its_first_line_and_nothing_else(project_dir: Path) -> None:
    add("Demo", project_dir)
    shell = subprocess.run(["/bin/sh", "-c", f"'{CCHUB}' list --json | head -1"], capture_output=True, text=True,
                           env=dict(os.environ), timeout=60, check=False)
    assert shell.returncode == 0 and shell.stdout == "[\n" and shell.stderr == ""


# ----- logs -------------------------------------------------------------------------------------------------

def write_log(data_key: str, lines: list[tuple[str, str]]) -> None:
    """Lines written as a running stack writes them (the same StackLog, the same file)."""
    log = StackLog(app_paths().logs_dir / f"{data_key}.log")
    for service, text in lines:
        log.note(text, service=service)
    log.close()


def test_logs_prints_the_log_by_service_and_the_last_lines(project_dir: Path) -> None:
    data_key, _, _ = add("Demo", project_dir)
    assert "has no log yet" in cchub("logs", "Demo").stderr
    write_log(data_key, [("hub", "[hub] starting"), ("postgres", "database system is ready"),
                         ("backend", "Uvicorn running on http://0.0.0.0:8000"), ("backend", "GET /health 200"),
                         ("frontend", "VITE ready")])
    everything = cchub("logs", "demo")
    assert everything.returncode == 0
    rows = everything.stdout.splitlines()
    assert [r.split(" | ", 1)[1] for r in rows] == ["[hub] starting", "database system is ready",
                                                   "Uvicorn running on http://0.0.0.0:8000", "GET /health 200",
                                                   "VITE ready"]
    assert rows[1].split(" | ")[0].split()[-1] == "postgres"
    backend = cchub("logs", "Demo", "--service", "backend").stdout.splitlines()
    assert [r.split(" | ", 1)[1] for r in backend] == ["Uvicorn running on http://0.0.0.0:8000", "GET /health 200"]
    last = cchub("logs", "Demo", "-n", "1").stdout.splitlines()
    assert [r.split(" | ", 1)[1] for r in last] == ["VITE ready"]


@pytest.mark.parametrize(("argv", "expected"), [
    (["logs", "Nope"], "no project named 'Nope'"),
    (["logs", "Demo", "--service", "postgress"], "no service named 'postgress' in the log of 'Demo'; use one of"),
    (["logs", "Demo", "-n", "-3"], "-n takes a number of lines, 0 or more"),
    (["logs", "Demo", "-n", "ten"], "invalid int value: 'ten'"),
    (["open", "Nope"], "no project named 'Nope'"),
    (["restart", "Nope"], "no project named 'Nope'"),
    (["logs"], "the following arguments are required: project"),
])
def test_bad_input_to_the_new_verbs_is_one_line_and_exit_1(project_dir: Path, argv: list[str],
                                                           expected: str) -> None:
    add("Demo", project_dir)
    one_line_error(cchub(*argv), expected)


def test_logs_follow_prints_new_lines_of_its_service_until_interrupted(project_dir: Path) -> None:
    data_key, _, _ = add("Demo", project_dir)
    write_log(data_key, [("backend", "first")])
    proc = start_cchub("logs", "Demo", "-f", "--service", "backend")
    assert proc.stdout is not None and proc.stderr is not None
    reader = LineReader(proc.stdout)
    try:
        wait_for(lambda: reader.has("| first"), timeout=60)
        write_log(data_key, [("postgres", "not this one"), ("backend", "second")])
        wait_for(lambda: reader.has("| second"), timeout=60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any("not this one" in line for line in reader.lines)
    assert proc.stderr.read() == ""


# ----- open -------------------------------------------------------------------------------------------------

def test_open_opens_the_frontend_or_the_api_of_a_running_project(project_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data_key, frontend, backend = add("Demo", project_dir)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'a').write(sys.argv[1] + '\\n')\n")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {browser} %s")
    one_line_error(cchub("open", "Demo"), "'Demo' is stopped, so http://localhost:")
    with LeaseHolder(app_paths().runtime_dir, data_key, "Demo", state="running"):
        result = cchub("open", "Demo")
        assert result.returncode == 0 and result.stdout == f"Opened http://localhost:{frontend}\n"
        assert cchub("open", "Demo", "--api").returncode == 0
    assert opened.read_text().splitlines() == [f"http://localhost:{frontend}",
                                               f"http://localhost:{backend}/docs"]


def test_open_without_a_browser_prints_the_url(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_key, frontend, _ = add("Demo", project_dir)
    for var in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(CCHUB.parent))   # no xdg-open, no console browser
    with LeaseHolder(app_paths().runtime_dir, data_key, "Demo", state="running"):
        result = cchub("open", "Demo")
    assert result.returncode == 0
    assert result.stdout == f"No web browser found here: open http://localhost:{frontend} yourself.\n"


# ----- restart ----------------------------------------------------------------------------------------------

def test_restart_stops_the_running_stack_and_starts_it_again(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                                             project_dir: Path) -> None:
    add("Demo", project_dir, port_block)
    first = start_cchub("up", "Demo")
    assert first.stdout is not None
    first_out = LineReader(first.stdout)
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: any("Press Ctrl-C" in line for line in first_out.lines), timeout=60)
        second = start_cchub("restart", "Demo")
        assert second.stdout is not None
        second_out = LineReader(second.stdout)
        assert first.wait(60) == 0   # the first owner stopped cleanly
        wait_for(lambda: any("Press Ctrl-C" in line for line in second_out.lines), timeout=60)
        assert any(f"Frontend: http://localhost:{port_block.frontend}" in line for line in second_out.lines)
        assert any("Stopped 'Demo'; starting it again." in line for line in second_out.lines)
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    sessions = fake_dagger_env.journal.sessions()
    assert len(sessions) == 2
    fake_dagger_env.sessions_exited()
    assert all(s.ended_cleanly for s in fake_dagger_env.journal.sessions())


def test_restart_of_a_stopped_project_starts_it(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                                project_dir: Path) -> None:
    add("Demo", project_dir, port_block)
    proc = start_cchub("restart", "Demo")
    assert proc.stdout is not None
    out = LineReader(proc.stdout)
    try:
        wait_for(lambda: any("Press Ctrl-C" in line for line in out.lines), timeout=60)
        assert any("'Demo' was not running; starting it." in line for line in out.lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    fake_dagger_env.sessions_exited()


# ----- db-url -----------------------------------------------------------------------------------------------

def test_db_url_prints_the_connection_string_of_an_exposed_database(project_dir: Path) -> None:
    from cchub_desktop.stack.secrets_store import load_or_create

    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    hidden = store.add("Hidden", project_dir)
    shown = store.add("Shown", project_dir, expose_db=True)
    store.close()
    one_line_error(cchub("db-url", "Hidden"), "'Hidden' does not expose its database to this machine; turn it on "
                                              "with 'cchub edit \"Hidden\" --expose-db'")
    one_line_error(cchub("db-url", "Shown"), "'Shown' has no database yet: its first start makes it")
    password = load_or_create(paths.secrets_dir, shown.data_key).db_password   # as the first start makes it
    result = cchub("db-url", "Shown")
    assert result.returncode == 0
    assert result.stdout == (f"postgresql://commandcenter:{password}@localhost:{shown.postgres_port}/"
                             "commandcenter\n")
    assert hidden.data_key != shown.data_key


def test_restart_of_one_service_of_a_stopped_project_starts_the_whole_project_and_says_so(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add("Demo", project_dir, port_block)
    one_line_error(cchub("restart", "Demo", "--service", "nginx"), "no service named 'nginx'; the stack's services")
    proc = start_cchub("restart", "Demo", "--service", "backend")
    assert proc.stdout is not None
    out = LineReader(proc.stdout)
    try:
        wait_for(lambda: out.has("Press Ctrl-C"), timeout=60)
        assert out.has("'Demo' was not running; starting it.")   # one service of a running stack: test_service_restart
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    fake_dagger_env.sessions_exited()


def test_logs_since_keeps_the_lines_written_after_that_time(project_dir: Path) -> None:
    data_key, _, _ = add("Demo", project_dir)
    log_file = app_paths().logs_dir / f"{data_key}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("2020-01-01 10:00:00,000 backend  old line\n2020-01-02 10:00:00,000 backend  newer line\n")
    write_log(data_key, [("backend", "just now")])
    since_date = [r.split(" | ", 1)[1] for r in cchub("logs", "Demo", "--since", "2020-01-02").stdout.splitlines()]
    assert since_date == ["newer line", "just now"]
    recent = [r.split(" | ", 1)[1] for r in cchub("logs", "Demo", "--since", "1d").stdout.splitlines()]
    assert recent == ["just now"]
    one_line_error(cchub("logs", "Demo", "--since", "yesterday"), "--since takes a time like 10m, 2h, 1d")


def test_help_lists_the_commands_by_what_people_do() -> None:
    result = cchub("--help")
    assert result.returncode == 0
    groups = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.split("by what you do:\n")[1]
              .splitlines() if line.startswith("  ")}
    assert "restart" in groups["run"] and "open" in groups["run"]
    assert "logs" in groups["inspect"] and "backup" in groups["data"] and "update" in groups["source"]
    assert "env" in groups["projects"]
