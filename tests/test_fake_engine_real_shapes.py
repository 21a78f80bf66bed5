"""Lessons from a real Dagger v0.21.8 engine (docs/real-engine.md) that the test engine now repeats."""

from __future__ import annotations

from tests.fake_dagger.execs import ExecContext, default_exec
from tests.fake_dagger.state import ContainerSpec, Mount


def _pg_dump_to(target: str, spec: ContainerSpec) -> tuple[int, str]:
    ctx = ExecContext(["pg_dump", "--host=postgres", f"--file={target}"], "pgvector/pgvector:pg16", "/", {},
                      folders=spec.folders())
    result = default_exec(ctx)
    return result.exit_code, result.stderr


def test_pg_dump_into_a_folder_the_container_lacks_fails_as_the_real_one_does() -> None:
    code, stderr = _pg_dump_to("/backup/commandcenter.sql", ContainerSpec())
    assert code == 1
    assert 'could not open output file "/backup/commandcenter.sql"' in stderr


def test_pg_dump_writes_into_a_folder_made_by_with_directory_or_a_mount() -> None:
    made = ContainerSpec(copies=[{"field": "withDirectory", "path": "/backup", "source": ""}])
    mounted = ContainerSpec(mounts=[Mount("/dumps/today", "cache", "k")])
    assert _pg_dump_to("/backup/commandcenter.sql", made)[0] == 0
    assert _pg_dump_to("/dumps/today/x.sql", mounted)[0] == 0
    assert _pg_dump_to("/tmp/x.sql", ContainerSpec())[0] == 0
