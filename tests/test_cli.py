"""`cchub` list/add/edit/remove: output, exit codes, one-line errors, and nothing written on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cchub_desktop import __version__, ports
from cchub_desktop.cli import main
from cchub_desktop.paths import app_paths
from tests.helpers import free_block_number
from tests.lease_holder import LeaseHolder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def db_bytes() -> bytes:
    paths = app_paths()
    files = [paths.db_file, paths.db_file.with_name(paths.db_file.name + "-wal")]
    return b"|".join(f.read_bytes() if f.exists() else b"" for f in files)


def free_default_blocks() -> tuple[ports.PortBlock, ports.PortBlock]:
    """The blocks `cchub add` gives the first two projects (the second with its databases exposed) right now:
    block 0 (3000/8000) unless another program holds one of its ports, as a developer's own Vite often does."""
    first = ports.next_free_block([])
    return first, ports.next_free_block(first.as_dict().values(), expose_db=True)


def test_add_list_json_edit_remove(capsys: pytest.CaptureFixture[str], project_dir: Path) -> None:
    first, second = free_default_blocks()
    typed = ports.block(free_block_number())  # ports a person types: free on this machine now
    code, out, _ = run(capsys, "add", "Alpha", str(project_dir))
    assert code == 0 and f"http://localhost:{first.frontend}" in out
    code, out, _ = run(capsys, "add", "Beta", str(project_dir), "--expose-db", "--backend-port", str(typed.backend))
    assert code == 0
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert [p["name"] for p in data] == ["Alpha", "Beta"]
    assert set(data[0]) == {"name", "slug", "path", "backend_port", "frontend_port", "postgres_port",
                            "redis_port", "expose_db", "status", "last_error", "source_url", "source_ref",
                            "source_commit", "source_commit_short", "source_commit_date", "host_copy"}
    assert data[0]["host_copy"]["state"] == "none"       # never started: no copy of its data yet
    assert data[1]["backend_port"] == typed.backend and data[1]["frontend_port"] == second.frontend
    assert data[1]["expose_db"] is True
    code, out, _ = run(capsys, "list")
    assert "Alpha" in out and "stopped" in out and f"{first.postgres} (internal)" in out
    code, _, _ = run(capsys, "edit", "alpha", "--name", "Alpha 2", "--frontend-port", str(typed.frontend),
                     "--expose-db")
    assert code == 0
    (alpha,) = [p for p in json.loads(run(capsys, "list", "--json")[1]) if p["slug"] == "alpha"]
    assert alpha["name"] == "Alpha 2" and alpha["frontend_port"] == typed.frontend and alpha["expose_db"] is True
    code, out, _ = run(capsys, "remove", "Alpha 2")
    assert code == 0 and "was not touched" in out and project_dir.is_dir()
    assert [p["name"] for p in json.loads(run(capsys, "list", "--json")[1])] == ["Beta"]


def test_list_when_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and "cchub add" in out
    assert json.loads(run(capsys, "list", "--json")[1]) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["add", "Alpha", "PROJECT"], "cchub: name: A project named 'Alpha' already exists"),
        (["add", "", "PROJECT"], "cchub: name: Name is required."),
        (["add", "x" * 65, "PROJECT"], "cchub: name: Name is 65 characters long; the limit is 64."),
        (["add", "bad\x1bname", "PROJECT"], "cchub: name: Name contains an invisible or control character"),
        (["add", "New", "relative/dir"], f"cchub: path: Folder '{Path.cwd() / 'relative/dir'}' does not exist."),
        (["add", "New", "/nonexistent/folder"], "cchub: path: Folder '/nonexistent/folder' does not exist."),
        (["add", "New", "/"], "Pass --allow-broad-path to confirm."),
        (["add", "New", "PROJECT", "--backend-port", "abc"], "cchub: backend_port: Backend port must be a whole"),
        (["add", "New", "PROJECT", "--redis-port", "99999"], "cchub: redis_port: Redis port 99999 is out of range"),
        (["add", "New", "PROJECT", "--backend-port", "ALPHA_FRONTEND"],
         "cchub: backend_port: Backend port ALPHA_FRONTEND is used by project 'Alpha'."),
        (["add", "New", "PROJECT", "--backend-port", "9000", "--frontend-port", "9000"],
         "cchub: frontend_port: Frontend port 9000 is already this project's backend port."),
        (["edit", "Nope", "--name", "x"], "cchub: no project named 'Nope'"),
        (["edit", "Alpha"], "cchub: nothing to change"),
        (["edit", "Alpha", "--frontend-port", "1"], "cchub: frontend_port: Frontend port 1 is out of range"),
        (["remove", "Nope"], "cchub: no project named 'Nope'"),
        (["add", "OnlyName"], "cchub add: the following arguments are required: path"),
    ],
)
def test_invalid_input_is_one_line_exit_1_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], project_dir: Path, argv: list[str], expected: str
) -> None:
    assert run(capsys, "add", "Alpha", str(project_dir))[0] == 0
    alpha_frontend = str(json.loads(run(capsys, "list", "--json")[1])[0]["frontend_port"])
    before = db_bytes()
    argv = [{"PROJECT": str(project_dir), "ALPHA_FRONTEND": alpha_frontend}.get(a, a) for a in argv]
    code, _out, err = run(capsys, *argv)
    assert code == 1
    assert expected.replace("ALPHA_FRONTEND", alpha_frontend) in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert db_bytes() == before


def test_remove_and_edit_refuse_a_project_another_process_runs_and_name_it(
        capsys: pytest.CaptureFixture[str], project_dir: Path) -> None:
    from cchub_desktop.store import ProjectStore

    run(capsys, "add", "Alpha", str(project_dir))
    store = ProjectStore(app_paths().db_file)
    alpha = store.get_by_name("Alpha")
    before = db_bytes()
    with LeaseHolder(app_paths().runtime_dir, alpha.data_key, "Alpha") as up:
        code, _, err = run(capsys, "remove", "Alpha", "--delete-data", "--yes")
        assert code == 1
        assert err.strip() == (f"cchub: 'Alpha' is running in `cchub up` (pid {up.pid}) — stop it there, or run "
                               "`cchub stop Alpha`.")
        code, _, err = run(capsys, "edit", "Alpha", "--frontend-port", "3100")
        assert code == 1 and f"`cchub up` (pid {up.pid})" in err
        code, out, _ = run(capsys, "list")
        assert code == 0 and "running" in out.splitlines()[1]       # from the lease: the record says stopped
        assert db_bytes() == before                                   # nothing removed, nothing edited
        code, _, _ = run(capsys, "edit", "Alpha", "--name", "Alpha Two")   # a name is not the stack's business
        assert code == 0
    # the owner ended: the same commands go through
    code, out, _ = run(capsys, "list")
    assert "stopped" in out.splitlines()[1]
    assert run(capsys, "edit", "Alpha Two", "--frontend-port", "3100")[0] == 0
    assert run(capsys, "remove", "Alpha Two")[0] == 0
    store.close()


def test_a_record_left_running_by_a_dead_process_is_stale_not_busy(
        capsys: pytest.CaptureFixture[str], project_dir: Path) -> None:
    """The window was killed (kill -9) while a stack ran: its record says running forever, but nobody holds
    the lease, so `cchub` shows it stopped, `stop` corrects the record, and remove/edit are not blocked."""
    from cchub_desktop.store import ProjectStatus, ProjectStore

    run(capsys, "add", "Alpha", str(project_dir))
    store = ProjectStore(app_paths().db_file)
    store.set_status(store.get_by_name("Alpha").id, ProjectStatus.RUNNING)  # type: ignore[arg-type]
    code, out, _ = run(capsys, "status", "Alpha")
    assert code == 0 and out.strip() == "Alpha: stopped"
    code, out, _ = run(capsys, "stop", "Alpha")
    assert code == 0 and "was recorded as running, but no process runs it" in out
    assert store.get_by_name("Alpha").status == ProjectStatus.STOPPED.value
    assert run(capsys, "edit", "Alpha", "--frontend-port", "3100")[0] == 0
    assert run(capsys, "remove", "Alpha")[0] == 0
    store.close()


def test_installed_entry_point(project_dir: Path, cchub_home: Path) -> None:
    exe = Path(sys.executable).with_name("cchub")
    env = dict(os.environ, CCHUB_HOME=str(cchub_home))
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"cchub {__version__}"
    bad = subprocess.run([str(exe), "add", "x", "nowhere"], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("cchub: path:") and bad.stdout == ""


def test_a_folder_is_taken_as_a_shell_gives_it_relative_to_the_current_directory(
        capsys: pytest.CaptureFixture[str], project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_dir)
    code, _out, err = run(capsys, "add", "here", ".")
    assert code == 0, err
    listed = json.loads(run(capsys, "list", "--json")[1])
    assert [(p["name"], p["path"]) for p in listed] == [("here", str(project_dir.resolve()))]


def test_list_into_a_pipe_closed_early_ends_quietly(project_dir: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("cchub")
    deep = project_dir.joinpath(*["d" * 200] * 5)   # ~1,000-character folders: the rows outgrow the pipe
    for n in range(80):
        folder = deep / f"p{n}"
        folder.mkdir(parents=True)
        assert main(["add", f"project {n:02d}", str(folder)]) == 0
    lister = subprocess.Popen([str(exe), "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert lister.stdout is not None and lister.stderr is not None
    lister.stdout.readline()
    lister.stdout.close()          # as `| head -1` does
    err = lister.stderr.read().decode()
    assert lister.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_adding_a_folder_another_project_uses_says_so(capsys: pytest.CaptureFixture[str],
                                                      project_dir: Path) -> None:
    assert run(capsys, "add", "one", str(project_dir))[0] == 0
    code, out, err = run(capsys, "add", "two", str(project_dir))
    assert code == 0, err
    assert "Note: project 'one' uses this folder too" in out
