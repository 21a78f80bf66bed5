"""The fake Dagger engine behaves like the real one for the real dagger-io SDK.

Every test drives the SDK exactly as the product does: `dagger.Connection(dagger.Config(...))` with
`_EXPERIMENTAL_DAGGER_CLI_BIN` pointing at the fake CLI (set by the `fake_dagger_env` fixture).
"""
# ruff: noqa: F811  (the fixture is imported here and then requested by name)

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import dagger
import pytest
from fake_dagger.fixtures import FakeDagger, fake_dagger_env, free_ports, port_is_free  # noqa: F401
from fake_dagger.journal import Journal
from fake_dagger.sdk_helpers import LogCapture, eventually, http_get, lan_address, run
from fake_dagger.sdk_helpers import sdk_config as config

SECRET = "pg-s3cret-Value-42"


# -- the CLI ----------------------------------------------------------------------------------------------
def test_version_command_and_unknown_commands(fake_dagger_env: FakeDagger) -> None:
    ok = subprocess.run([fake_dagger_env.cli_path, "version"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0
    assert ok.stdout.startswith("dagger v0.21.11")
    bad = subprocess.run([fake_dagger_env.cli_path, "login"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1
    assert "unknown command" in bad.stderr


def test_each_connection_is_one_session_process_that_exits_when_closed(fake_dagger_env: FakeDagger) -> None:
    journal = fake_dagger_env.journal

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            assert await client.version() == "v0.21.11"
            async with dagger.Connection(config()) as other:
                assert await other.version() == "v0.21.11"
                sessions = journal.sessions()
                assert len(sessions) == 2
                assert not any(s.exited for s in sessions)
            journal.wait_sessions_exited(pids=[sessions[1].pid])
            assert not sessions[0].exited

    run(body)
    journal.wait_sessions_exited()
    first, _ = journal.sessions()
    assert first.ended_cleanly and first.end_reason == "stdin closed"
    assert first.labels["dagger.io/sdk.name"] == "python"


def test_a_stack_like_flow_runs_with_secrets_bindings_and_a_real_tunnel(
    fake_dagger_env: FakeDagger, tmp_path: Path
) -> None:
    journal = fake_dagger_env.journal
    project = tmp_path / "project"
    (project / "node_modules" / "left-pad").mkdir(parents=True)
    (project / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (project / "notes.md").write_text("hello\n")
    backend_port, frontend_port = free_ports(2)

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            password = client.set_secret("postgres-password", SECRET)
            postgres = (
                client.container().from_("postgres:15-alpine")
                .with_env_variable("POSTGRES_DB", "commandcenter")
                .with_secret_variable("POSTGRES_PASSWORD", password)
                .with_mounted_cache("/var/lib/postgresql/data", client.cache_volume("cchub-demo-pgdata"),
                                    sharing=dagger.CacheSharingMode.LOCKED)
                .with_exposed_port(5432)
                .as_service(use_entrypoint=True)
            )
            postgres = await postgres.start()
            assert await postgres.endpoint(scheme="postgres") == f"postgres://{await postgres.hostname()}:5432"

            source = client.git("https://github.com/PerformanceSuite/CommandCenter").branch("main").tree()
            assert "backend" in await source.entries()
            backend = (
                client.container().from_("python:3.11-slim")
                .with_directory("/app", source.directory("backend"))
                .with_mounted_directory("/workspace", client.host().directory(str(project), exclude=["node_modules"]),
                                        read_only=True)
                .with_workdir("/app")
                .with_service_binding("postgres", postgres)
                .with_secret_variable("DATABASE_PASSWORD", password)
                .with_exec(["pip", "install", "-r", "requirements.txt"])
                .with_exec(["alembic", "upgrade", "head"])
                .with_exposed_port(8000)
                .as_service(args=["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"])
            )
            tunnel = await client.host().tunnel(
                backend, ports=[dagger.PortForward(backend=8000, frontend=backend_port)]).start()
            assert await tunnel.endpoint(scheme="http") == f"http://127.0.0.1:{backend_port}"
            assert [await p.port() for p in await tunnel.ports()] == [backend_port]
            assert http_get(backend_port, "/health") == (200, b'{"status": "healthy"}')
            status, page = http_get(backend_port, "/")
            assert status == 200 and b"port 8000" in page
            if (lan := lan_address()) is not None:  # the engine's tunnels listen on every interface
                assert http_get(backend_port, "/health", host=lan)[0] == 200

            # a second tunnel to a port the service does not expose: connections are refused/reset
            odd = await client.host().tunnel(
                backend, ports=[dagger.PortForward(backend=9999, frontend=frontend_port)]).start()
            with pytest.raises((urllib.error.URLError, ConnectionError)):
                http_get(frontend_port, "/")
            await odd.stop()

            await tunnel.stop()
            assert port_is_free(backend_port)
            assert port_is_free(frontend_port)
            assert journal.open_tunnels() == []

    run(body)
    journal.wait_sessions_exited()
    (session,) = journal.sessions()
    assert session.ended_cleanly
    starts = {r["service_kind"]: r for r in journal.services("start")}
    assert starts["postgres"]["image"] == "postgres:15-alpine"
    assert starts["postgres"]["command"] == ["docker-entrypoint.sh", "postgres"]
    assert starts["postgres"]["secret_env"] == {"POSTGRES_PASSWORD": "postgres-password"}
    assert starts["postgres"]["mounts"][0] | {"owner": ""} == {
        "path": "/var/lib/postgresql/data", "kind": "cache", "source": "cchub-demo-pgdata", "read_only": False,
        "sharing": "LOCKED", "owner": ""}
    backend_start = starts["uvicorn"]
    assert backend_start["bindings"] == {"postgres": starts["postgres"]["service_id"]}
    assert {"path": "/workspace", "kind": "directory", "read_only": True} .items() <= \
        next(m for m in backend_start["mounts"] if m["path"] == "/workspace").items()
    assert [e["command"][:2] for e in journal.execs()] == [["pip", "install"], ["alembic", "upgrade"]]
    (upload,) = journal.uploads()
    assert upload["path"] == str(project) and upload["files"] == 1  # node_modules excluded
    listen = journal.tunnels("listen")[0]
    assert listen["host"] == "0.0.0.0"
    assert listen["ports"] == [{"frontend": backend_port, "backend": 8000, "backend_exposed": True}]
    assert SECRET not in journal.all_text()
    assert journal.calls("setSecret")[0]["args"]["name"] == "postgres-password"


def test_ids_are_content_hashes_and_objects_are_immutable(fake_dagger_env: FakeDagger) -> None:
    async def body() -> None:
        async with dagger.Connection(config()) as client:
            base = client.container().from_("alpine:3.20")
            same = client.container().from_("alpine:3.20")
            changed = base.with_env_variable("A", "1")
            assert await base.id() == await same.id()
            assert await changed.id() != await base.id()
            assert await base.with_exec(["echo", "hi"]).stdout() == "hi\n"
            synced = await changed.with_exec(["echo", "again"]).sync()  # reloaded through node(id:)
            assert await synced.stdout() == "again\n"

    run(body)
    assert fake_dagger_env.journal.calls("node")


def test_tunnel_on_a_taken_port_fails_saying_the_address_is_in_use(fake_dagger_env: FakeDagger) -> None:
    (port,) = free_ports(1)
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    journal = fake_dagger_env.journal

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            web = client.container().from_("node:18-alpine").with_exposed_port(3000).as_service(
                args=["npm", "run", "dev"])
            with pytest.raises(dagger.QueryError) as err:
                await client.host().tunnel(web, ports=[dagger.PortForward(backend=3000, frontend=port)]).start()
            assert f"listen tcp 0.0.0.0:{port}: bind: address already in use" in str(err.value)
            assert journal.running_services() == []  # the service the tunnel started is stopped again

    try:
        run(body)
    finally:
        holder.close()
    assert journal.tunnels("listen-failed")[0]["ports"][0]["frontend"] == port


def test_services_started_for_a_binding_stop_with_what_needed_them(fake_dagger_env: FakeDagger) -> None:
    (port,) = free_ports(1)
    journal = fake_dagger_env.journal

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            redis = client.container().from_("redis:7-alpine").with_exposed_port(6379).as_service()
            api = (client.container().from_("python:3.11-slim").with_service_binding("redis", redis)
                   .with_exposed_port(8000).as_service(args=["uvicorn", "app.main:app"]))
            tunnel = await client.host().tunnel(api, ports=[dagger.PortForward(backend=8000, frontend=port)]).start()
            assert {r["service_kind"] for r in journal.running_services()} == {"redis", "uvicorn"}
            await tunnel.stop()
            assert journal.running_services() == []
            # an exec's bindings run only for that exec
            await client.container().from_("alpine").with_service_binding("redis", redis).with_exec(
                ["redis-cli", "-h", "redis", "ping"]).sync()
            assert journal.running_services() == []
            # an explicit start is kept
            await redis.start()
            await client.container().from_("alpine").with_service_binding("redis", redis).with_exec(
                ["redis-cli", "-h", "redis", "info"]).sync()
            assert [r["service_kind"] for r in journal.running_services()] == ["redis"]

    run(body)


def test_service_up_serves_until_the_client_cancels(fake_dagger_env: FakeDagger) -> None:
    (port,) = free_ports(1)

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            web = client.container().from_("node:18-alpine").with_exposed_port(3000).as_service(
                args=["npm", "run", "dev"])
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: web.up(ports=[dagger.PortForward(backend=3000, frontend=port)]))
                await eventually(lambda: not port_is_free(port), what="up() listening")
                assert http_get(port, "/")[0] == 200
                tg.cancel_scope.cancel()
            await eventually(lambda: port_is_free(port), what="port released after up() was cancelled")

    run(body)


def test_log_lines_name_their_service_and_keep_coming(fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(log_interval=0.05)
    log = LogCapture()

    def lines_by_service() -> dict[str, list[str]]:
        titles: dict[str, str] = {}
        out: dict[str, list[str]] = {}
        for line in log.text().splitlines():
            idx, sep, rest = line.partition(": ")
            if not sep or not idx.strip().isdigit():
                continue
            if rest.startswith("[") and " | " in rest:
                out.setdefault(titles.get(idx.strip(), "?"), []).append(rest.split(" | ", 1)[1])
            elif not rest.startswith("!") and idx.strip() not in titles:
                titles[idx.strip()] = rest
        return out

    async def body() -> None:
        async with dagger.Connection(config(log)) as client:
            redis = client.container().from_("redis:7-alpine").with_exposed_port(6379).as_service(
                args=["redis-server", "--appendonly", "yes"])
            api = client.container().from_("python:3.11-slim").with_exposed_port(8000).as_service(
                args=["uvicorn", "app.main:app"])
            await redis.start()
            await api.start()
            await eventually(lambda: sum("tick" in x for x in lines_by_service().get(
                "start redis-server --appendonly yes", [])) >= 3, what="redis log lines")
            await eventually(lambda: sum("GET /health" in x for x in lines_by_service().get(
                "start uvicorn app.main:app", [])) >= 3, what="uvicorn log lines")
            await redis.stop()
            await eventually(lambda: "start redis-server --appendonly yes DONE" in log.text(), what="DONE line")

    run(body)
    by_service = lines_by_service()
    assert "Ready to accept connections tcp" in by_service["start redis-server --appendonly yes"]
    assert not any("GET /health" in x for x in by_service["start redis-server --appendonly yes"])


def test_files_made_in_a_container_can_be_exported(fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    async def body() -> None:
        async with dagger.Connection(config()) as client:
            dump = (client.container().from_("postgres:15-alpine")
                    .with_exec(["pg_dump", "-U", "commandcenter", "commandcenter"], redirect_stdout="/backup/dump.sql")
                    .file("/backup/dump.sql"))
            written = await dump.export(str(tmp_path / "backup.sql"))
            assert written == str(tmp_path / "backup.sql")
            source = client.git("https://github.com/PerformanceSuite/CommandCenter").ref("main").tree()
            await source.directory("frontend").export(str(tmp_path / "frontend"))

    run(body)
    assert "PostgreSQL database dump" in (tmp_path / "backup.sql").read_text()
    assert (tmp_path / "frontend" / "package.json").is_file()


def test_directories_files_and_container_fields(fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("MODE=dev\n")

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            d = (client.directory().with_new_file("conf/app.ini", "[app]\nname = demo\n")
                 .with_new_file("tmp/junk", "x").without_directory("tmp")
                 .with_file("app.env", client.host().file(str(tmp_path / "app.env"))))
            assert await d.entries() == ["app.env", "conf"]
            assert await d.entries(path="conf") == ["app.ini"]
            ini = d.file("conf/app.ini")
            assert (await ini.name(), await ini.size()) == ("app.ini", len("[app]\nname = demo\n"))
            assert await ini.contents(offset_lines=1) == "name = demo\n"
            assert (await d.digest()).startswith("sha256:")
            assert await d.digest() == await client.directory().with_directory(".", d).digest()
            ctr = (client.container().from_("python:3.11-slim").with_workdir("/srv")
                   .with_new_file("/srv/settings.toml", "debug = true\n").with_exposed_port(8000)
                   .with_exposed_port(9000, description="metrics"))
            assert await ctr.workdir() == "/srv"
            assert [await p.port() for p in await ctr.exposed_ports()] == [8000, 9000]
            assert await ctr.file("/srv/settings.toml").contents() == "debug = true\n"
            assert await ctr.with_exec(["sh", "-c", "exit 4"], expect=dagger.ReturnType.ANY).exit_code() == 4
            with pytest.raises(dagger.QueryError, match="no such file"):
                await ctr.file("/etc/missing.conf").contents()

    run(body)


# -- orphan safety ------------------------------------------------------------------------------------------
ORPHAN_CLIENT = """
import os, sys, anyio, dagger

async def main():
    async with dagger.Connection(dagger.Config(retry=None, log_output=sys.stderr)) as client:
        await client.container().from_("redis:7-alpine").with_exposed_port(6379).as_service().start()
        print("connected", flush=True)
        sys.stdin.readline()
        os._exit(0)  # the client dies without closing its session

anyio.run(main)
"""


def test_a_session_ends_when_its_client_process_dies(fake_dagger_env: FakeDagger, tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(ORPHAN_CLIENT)
    journal = fake_dagger_env.journal
    with subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as client:
        assert client.stdout is not None and client.stdin is not None
        assert client.stdout.readline().strip() == "connected"
        (session,) = journal.sessions()
        assert not session.exited and journal.running_services()
        client.stdin.write("\n")
        client.stdin.flush()
        assert client.wait(timeout=30) == 0
    journal.wait_sessions_exited()
    (session,) = journal.sessions()
    assert session.ended_cleanly and session.end_reason == "stdin closed"
    assert journal.services("stop")  # its service was stopped on the way out


def test_journal_reader_tolerates_an_empty_or_missing_directory(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "nothing-here")
    assert journal.sessions() == [] and journal.calls() == [] and journal.all_text() == ""


def test_session_protocol_token_errors_and_sigterm(fake_dagger_env: FakeDagger) -> None:
    """Straight at the CLI: JSON line, 401 without the token, HTTP 200 with errors (never 500), SIGTERM."""
    with subprocess.Popen([fake_dagger_env.cli_path, "session"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())

        def post(body: bytes, token: str) -> tuple[int, dict[str, object]]:
            auth = base64.b64encode(f"{token}:".encode()).decode()
            req = urllib.request.Request(f"http://127.0.0.1:{info['port']}/query", data=body,
                                         headers={"Authorization": f"Basic {auth}"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert post(b'{"query": "{ version }"}', info["session_token"]) == (200, {"data": {"version": "v0.21.11"}})
        assert post(b'{"query": "{ version }"}', "not-the-token")[0] == 401
        status, answer = post(b'{"query": "{ nope }"}', info["session_token"])
        assert status == 200 and answer["errors"]
        status, answer = post(b"not json", info["session_token"])
        assert status == 200 and answer["errors"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    (session,) = fake_dagger_env.journal.sessions()
    assert session.end_reason == "SIGTERM"
