"""Field resolvers: one function per field that does more than extend a call chain.

Any other field returning an object type makes a new object from its parent and arguments (the
immutable call chain); `id` returns the object's content-hash ID. ID arguments are checked against
the `@expectedType` the schema gives them, as the real engine does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLResolveInfo, get_named_type

from . import dirs
from .objects import Obj
from .session import Cancelled, Session
from .state import container_spec

ENGINE_VERSION = "v0.21.11"


@dataclass
class RequestContext:
    """Per HTTP request: the session, and whether the client has gone away (cancelled the request)."""

    session: Session
    cancelled: Cancelled


@dataclass(frozen=True)
class Call:
    field: str
    cancelled: Cancelled


Args = dict[str, Any]
Handler = Callable[[Session, Obj, Args, Call], Any]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(type_name: str, *fields: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for f in fields:
            HANDLERS[(type_name, f)] = fn
        return fn
    return register


def _journal_args(type_name: str, field: str, args: Args) -> Args:
    if (type_name, field) == ("Query", "setSecret"):
        return {"name": args["name"], "plaintext_sha256": _sha(args["plaintext"])}
    return args


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_ids(session: Session, info: GraphQLResolveInfo[Any], args: Args) -> None:
    assert isinstance(info.parent_type, GraphQLObjectType)
    for name, arg in info.parent_type.fields[info.field_name].args.items():
        value = args.get(name)
        if not isinstance(value, str) or arg.ast_node is None:
            continue
        for d in arg.ast_node.directives or ():
            if d.name.value == "expectedType" and d.arguments:
                expected = getattr(d.arguments[0].value, "value", None)
                session.registry.load(value, None if expected == "Socket" else str(expected))


def resolve(parent: Obj | None, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
    ctx: RequestContext = info.context
    s = ctx.session
    type_name, field = info.parent_type.name, info.field_name
    s.check_die_on(type_name, field)
    record: Args = {"type": type_name, "field": field, "args": _journal_args(type_name, field, args),
                    "receiver": parent.id if isinstance(parent, Obj) else None}
    try:
        _check_ids(s, info, args)
        result = _dispatch(s, parent, info, args, ctx)
    except GraphQLError as e:
        s.journal.write("call", **record, error=e.message)
        raise
    s.journal.write("call", **record, result=result.id if isinstance(result, Obj) else None)
    return result


def _dispatch(s: Session, parent: Obj | None, info: GraphQLResolveInfo[Any], args: Args, ctx: RequestContext) -> Any:
    type_name, field = info.parent_type.name, info.field_name
    handler = HANDLERS.get((type_name, field))
    if handler is not None:
        return handler(s, parent, args, Call(field, ctx.cancelled))  # type: ignore[arg-type]
    if field == "id" and isinstance(parent, Obj):
        return parent.id
    named = get_named_type(info.return_type)
    if isinstance(named, GraphQLObjectType):
        return s.registry.make(named.name, field, args, parent)
    raise GraphQLError(f"{type_name}.{field} is not implemented by this engine")


# -- Query ----------------------------------------------------------------------------------------------
@handles("Query", "version")
def _version(s: Session, _: Obj, a: Args, c: Call) -> str:
    return ENGINE_VERSION


@handles("Query", "id")
def _query_id(s: Session, _: Obj, a: Args, c: Call) -> str:
    return s.registry.make("Query", "query", {}).id


@handles("Query", "node")
def _node(s: Session, _: Obj, a: Args, c: Call) -> Obj:
    return s.registry.load(a["id"])


@handles("Query", "setSecret")
def _set_secret(s: Session, _: Obj, a: Args, c: Call) -> Obj:
    # The plaintext never enters the object (nor its ID, nor the journal): only a digest does.
    return s.registry.make("Secret", "setSecret", {"name": a["name"], "digest": _sha(a["plaintext"])})


# -- Container ------------------------------------------------------------------------------------------
@handles("Container", "from")
def _from(s: Session, ctr: Obj, a: Args, c: Call) -> Obj:
    address = a["address"]
    if address in s.faults.image_missing:
        repo = address.split("@")[0].rsplit(":", 1)[0] if "/" not in address.split(":")[-1] else address
        raise GraphQLError(
            f'failed to resolve source metadata for "{address}": pull access denied, repository does not '
            f"exist or may require authorization: server message: insufficient_scope: authorization "
            f"failed: {repo}: not found")
    return s.registry.make("Container", "from", a, ctr)


@handles("Container", "sync")
def _ctr_sync(s: Session, ctr: Obj, a: Args, c: Call) -> str:
    s.evaluate(ctr, c.cancelled)
    return ctr.id


@handles("Container", "stdout", "stderr", "exitCode")
def _ctr_output(s: Session, ctr: Obj, a: Args, c: Call) -> Any:
    spec, result = s.evaluate(ctr, c.cancelled)
    if not spec.execs:
        raise GraphQLError("no command has been set: use withExec first")
    return {"stdout": result.stdout, "stderr": result.stderr, "exitCode": result.exit_code}[c.field]


@handles("Container", "workdir")
def _ctr_workdir(s: Session, ctr: Obj, a: Args, c: Call) -> str:
    return container_spec(s.registry, ctr).workdir


@handles("Container", "exposedPorts")
def _ctr_ports(s: Session, ctr: Obj, a: Args, c: Call) -> list[Obj]:
    return [_port(s, ctr, p) for p in container_spec(s.registry, ctr).exposed_ports]


def _port(s: Session, parent: Obj, p: Args) -> Obj:
    data = {"port": p["port"], "protocol": p.get("protocol", "TCP"), "description": p.get("description"),
            "experimentalSkipHealthcheck": bool(p.get("experimentalSkipHealthcheck"))}
    return s.registry.make("Port", "port", {"port": p["port"]}, parent, data)


@handles("Port", "port", "protocol", "description", "experimentalSkipHealthcheck")
def _port_field(s: Session, port: Obj, a: Args, c: Call) -> Any:
    return port.data[c.field]


# -- Directory / File / Host ----------------------------------------------------------------------------
@handles("Host", "directory")
def _host_dir(s: Session, host: Obj, a: Args, c: Call) -> Obj:
    error = dirs.host_directory_error(a["path"])
    if error is not None:
        raise error
    return s.registry.make("Directory", "directory", a, host)


@handles("Directory", "directory")
def _subdir(s: Session, d: Obj, a: Args, c: Call) -> Obj:
    sub = s.registry.make("Directory", "directory", a, d)
    dirs.tree_of(s.registry, sub)  # a missing folder fails here, as in the engine
    return sub


@handles("Directory", "sync")
def _dir_sync(s: Session, d: Obj, a: Args, c: Call) -> str:
    dirs.tree_of(s.registry, d)
    return d.id


@handles("Directory", "entries")
def _entries(s: Session, d: Obj, a: Args, c: Call) -> list[str]:
    return dirs.entries(dirs.tree_of(s.registry, d), a.get("path"))


@handles("Directory", "digest")
def _dir_digest(s: Session, d: Obj, a: Args, c: Call) -> str:
    tree = dirs.tree_of(s.registry, d)
    h = hashlib.sha256()
    for rel, data in sorted(tree.items()):
        h.update(rel.encode() + b"\0" + (dirs.read(data) if data is not None else b"/") + b"\0")
    return "sha256:" + h.hexdigest()


@handles("Directory", "export")
def _dir_export(s: Session, d: Obj, a: Args, c: Call) -> str:
    return dirs.export(dirs.tree_of(s.registry, d), a["path"], bool(a.get("wipe")))


@handles("File", "sync")
def _file_sync(s: Session, f: Obj, a: Args, c: Call) -> str:
    s.file_bytes(f, c.cancelled)
    return f.id


@handles("File", "contents")
def _file_contents(s: Session, f: Obj, a: Args, c: Call) -> str:
    lines = s.file_bytes(f, c.cancelled).decode(errors="replace").splitlines(keepends=True)
    start = a.get("offsetLines") or 0
    end = start + a["limitLines"] if a.get("limitLines") is not None else None
    return "".join(lines[start:end])


@handles("File", "size")
def _file_size(s: Session, f: Obj, a: Args, c: Call) -> int:
    return len(s.file_bytes(f, c.cancelled))


@handles("File", "name")
def _file_name(s: Session, f: Obj, a: Args, c: Call) -> str:
    return str(f.args["path"]).rstrip("/").rsplit("/", 1)[-1]


@handles("File", "export")
def _file_export(s: Session, f: Obj, a: Args, c: Call) -> str:
    return s.export_file(f, a["path"], c.cancelled)


# -- Git ------------------------------------------------------------------------------------------------
@handles("GitRepository", "head", "branch", "tag", "commit", "ref")
def _git_ref(s: Session, repo: Obj, a: Args, c: Call) -> Obj:
    if s.faults.git_fail:
        url = repo.args.get("url")
        raise GraphQLError(f"failed to fetch remote {url}: git ls-remote failed: {s.faults.git_fail}: "
                           f"fatal: unable to access '{url}/': Could not resolve host")
    return s.registry.make("GitRef", c.field, a, repo)


@handles("GitRef", "commit")
def _git_commit(s: Session, ref: Obj, a: Args, c: Call) -> str:
    if ref.field == "commit":      # git(url).commit(id): that commit
        return str(ref.args["id"])
    # a branch/tag/ref/head: where it points now; FAKE_DAGGER_GIT_REVISION moves every branch to a new commit
    revision = s.faults.git_revision
    return hashlib.sha1((ref.digest + (f"#{revision}" if revision else "")).encode()).hexdigest()


@handles("GitRef", "ref")
def _git_ref_name(s: Session, ref: Obj, a: Args, c: Call) -> str:
    name = next(iter(ref.args.values()), "main") if ref.args else "main"
    return name if name.startswith("refs/") or ref.field in {"commit"} else \
        f"refs/{'tags' if ref.field == 'tag' else 'heads'}/{name}"


# -- Service --------------------------------------------------------------------------------------------
@handles("Service", "start")
def _svc_start(s: Session, svc: Obj, a: Args, c: Call) -> str:
    s.services.start(svc, c.cancelled)
    return svc.id


@handles("Service", "stop")
def _svc_stop(s: Session, svc: Obj, a: Args, c: Call) -> str:
    s.services.stop(svc)
    return svc.id


@handles("Service", "sync")
def _svc_sync(s: Session, svc: Obj, a: Args, c: Call) -> str:
    spec = s.services.spec(svc)
    if spec.container is not None:
        s.evaluate(spec.container, c.cancelled)
    return svc.id


@handles("Service", "up")
def _svc_up(s: Session, svc: Obj, a: Args, c: Call) -> None:
    s.services.up(svc, list(a.get("ports") or []), bool(a.get("random")), c.cancelled)


@handles("Service", "hostname")
def _svc_hostname(s: Session, svc: Obj, a: Args, c: Call) -> str:
    return s.services.spec(svc).hostname


@handles("Service", "endpoint")
def _svc_endpoint(s: Session, svc: Obj, a: Args, c: Call) -> str:
    spec = s.services.spec(svc)
    if spec.is_tunnel:
        running = s.services.start(svc, c.cancelled)
        port = a.get("port") or running.ports[0][0]
    else:
        exposed = [p["port"] for p in s.services.exposed_ports(spec)]
        if not a.get("port") and not exposed:
            raise GraphQLError("no ports exposed")
        port = a.get("port") or exposed[0]
    scheme = a.get("scheme") or ""
    return f"{scheme + '://' if scheme else ''}{spec.hostname}:{port}"


@handles("Service", "ports")
def _svc_ports(s: Session, svc: Obj, a: Args, c: Call) -> list[Obj]:
    spec = s.services.spec(svc)
    if not spec.is_tunnel:
        return [_port(s, svc, p) for p in s.services.exposed_ports(spec)]
    running = s.services.get(svc)
    if running is None:
        raise GraphQLError("service is not running: start it first")
    return [_port(s, svc, {"port": front, "description": f"tunnel to port {back}"})
            for front, back in running.ports]
