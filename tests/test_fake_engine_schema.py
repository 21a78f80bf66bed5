"""The fake engine's schema names every type, field, argument and return type exactly as the real engine.

The real Dagger v0.21 schema is not part of this repository; the comparison runs when it sits next to
the repository at ../shared/dagger/schema-0.21.graphqls and is skipped (saying why) otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_dagger.schema import schema as fake_schema
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    print_ast,
)
from graphql.language import ConstDirectiveNode

REAL_SCHEMA = Path(__file__).resolve().parents[1].parent / "shared" / "dagger" / "schema-0.21.graphqls"

# Fields the product calls (issue 3); the fake must serve each of them.
REQUIRED_FIELDS = {
    "Query": ["version", "container", "host", "cacheVolume", "setSecret", "git", "node"],
    "GitRepository": ["branch", "tag", "commit", "ref"],
    "GitRef": ["tree"],
    "Container": [
        "from", "withEnvVariable", "withSecretVariable", "withMountedDirectory", "withMountedCache",
        "withDirectory", "withWorkdir", "withExec", "withExposedPort", "withServiceBinding", "asService",
        "sync", "stdout", "stderr", "withEntrypoint", "withUser", "withFile",
    ],
    "Directory": ["directory", "file", "export", "entries", "withoutDirectory"],
    "Host": ["directory", "tunnel"],
    "Service": ["start", "stop", "up", "endpoint", "hostname", "withHostname", "ports"],
    "Port": ["port"],
    "CacheVolume": ["id"],
    "Secret": ["id"],
}


def _user_types(schema: GraphQLSchema) -> dict[str, object]:
    return {
        name: t for name, t in schema.type_map.items()
        if not name.startswith("__") and name not in {"String", "Int", "Float", "Boolean", "ID"}
    }


def _expected_type(directives: tuple[ConstDirectiveNode, ...] | None) -> str | None:
    for d in directives or ():
        if d.name.value == "expectedType":
            return print_ast(d)
    return None


def _default(arg: GraphQLArgument) -> str | None:
    node = arg.ast_node.default_value if arg.ast_node else None
    return print_ast(node) if node else None


def _arg_signature(arg: GraphQLArgument) -> tuple[str, str | None, str | None]:
    directives = arg.ast_node.directives if arg.ast_node else None
    return str(arg.type), _default(arg), _expected_type(directives)


def test_fake_schema_serves_every_field_the_product_calls() -> None:
    schema = fake_schema()
    for type_name, fields in REQUIRED_FIELDS.items():
        t = schema.get_type(type_name)
        assert isinstance(t, GraphQLObjectType), type_name
        missing = [f for f in fields if f not in t.fields]
        assert not missing, f"{type_name} lacks {missing}"
        assert "id" in t.fields, f"{type_name} must be loadable by node(id:)"


def test_fake_schema_has_no_load_from_id_fields() -> None:
    query = fake_schema().query_type
    assert query is not None
    assert [f for f in query.fields if f.startswith("load") and f.endswith("FromID")] == []


@pytest.fixture(scope="module")
def real_schema() -> GraphQLSchema:
    if not REAL_SCHEMA.is_file():
        pytest.skip(
            "the real Dagger v0.21 schema is not available at ../shared/dagger/schema-0.21.graphqls "
            "(relative to the repository root); it is not shipped with this repository"
        )
    return build_schema(REAL_SCHEMA.read_text(encoding="utf-8"))


def test_every_fake_type_exists_with_the_same_kind(real_schema: GraphQLSchema) -> None:
    for name, fake_type in _user_types(fake_schema()).items():
        real_type = real_schema.get_type(name)
        assert real_type is not None, f"type {name} is not in the real schema"
        assert type(real_type) is type(fake_type), f"{name}: {type(fake_type).__name__} vs {type(real_type).__name__}"


def test_every_fake_field_matches_the_real_field(real_schema: GraphQLSchema) -> None:
    problems: list[str] = []
    for name, fake_type in _user_types(fake_schema()).items():
        if not isinstance(fake_type, GraphQLObjectType | GraphQLInterfaceType):
            continue
        real_type = real_schema.get_type(name)
        assert isinstance(real_type, GraphQLObjectType | GraphQLInterfaceType)
        fake_ifaces = {i.name for i in fake_type.interfaces}
        real_ifaces = {i.name for i in real_type.interfaces}
        if not fake_ifaces <= real_ifaces:
            problems.append(f"{name} implements {fake_ifaces - real_ifaces} only in the fake")
        for field_name, fake_field in fake_type.fields.items():
            where = f"{name}.{field_name}"
            real_field = real_type.fields.get(field_name)
            if real_field is None:
                problems.append(f"{where} does not exist in the real schema")
                continue
            if str(fake_field.type) != str(real_field.type):
                problems.append(f"{where} returns {fake_field.type}, real returns {real_field.type}")
            fake_dir = _expected_type(fake_field.ast_node.directives if fake_field.ast_node else None)
            real_dir = _expected_type(real_field.ast_node.directives if real_field.ast_node else None)
            if fake_dir != real_dir:
                problems.append(f"{where} is marked {fake_dir}, real {real_dir}")
            fake_args = {a: _arg_signature(v) for a, v in fake_field.args.items()}
            real_args = {a: _arg_signature(v) for a, v in real_field.args.items()}
            if fake_args != real_args:
                problems.append(f"{where} arguments differ:\n  fake {fake_args}\n  real {real_args}")
    assert not problems, "\n".join(problems)


def test_enums_inputs_and_directives_match(real_schema: GraphQLSchema) -> None:
    fake = fake_schema()
    for name, fake_type in _user_types(fake).items():
        real_type = real_schema.get_type(name)
        if isinstance(fake_type, GraphQLEnumType):
            assert isinstance(real_type, GraphQLEnumType)
            assert set(fake_type.values) == set(real_type.values), name
        if isinstance(fake_type, GraphQLInputObjectType):
            assert isinstance(real_type, GraphQLInputObjectType)
            fake_fields = {f: (str(v.type), v.default_value) for f, v in fake_type.fields.items()}
            real_fields = {f: (str(v.type), v.default_value) for f, v in real_type.fields.items()}
            assert fake_fields == real_fields, name
    for directive in fake.directives:
        real_directive = real_schema.get_directive(directive.name)
        assert real_directive is not None, directive.name
        assert {a: str(v.type) for a, v in directive.args.items()} == {
            a: str(v.type) for a, v in real_directive.args.items()
        }, directive.name
