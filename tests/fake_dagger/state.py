"""What a container or service is, folded from its call chain (image, env, mounts, bindings, ...)."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from .objects import Obj, Registry, short_hash

# Entrypoint and default command of the images the product uses, as their Dockerfiles set them.
IMAGE_DEFAULTS: dict[str, tuple[list[str], list[str]]] = {
    "postgres": (["docker-entrypoint.sh"], ["postgres"]),
    "pgvector": (["docker-entrypoint.sh"], ["postgres"]),   # pgvector/pgvector is built FROM postgres
    "redis": (["docker-entrypoint.sh"], ["redis-server"]),
    "python": ([], ["python3"]),
    "node": (["docker-entrypoint.sh"], ["node"]),
}


def image_name(address: str) -> str:
    """'docker.io/library/postgres:15-alpine' -> 'postgres'."""
    base = address.split("@", 1)[0].rsplit("/", 1)[-1]
    return base.split(":", 1)[0]


@dataclass
class Mount:
    path: str
    kind: str  # "directory" | "cache" | "file" | "secret"
    source: str  # description: host path, cache key, secret name, ...
    read_only: bool = False
    sharing: str | None = None
    owner: str = ""

    def as_record(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "source": self.source, "read_only": self.read_only,
                "sharing": self.sharing, "owner": self.owner}


# folders a Debian or Alpine based image has before anything is added to it
IMAGE_FOLDERS = ("/tmp", "/root", "/etc", "/usr/local/bin", "/var/lib", "/var/tmp", "/run", "/home", "/opt", "/srv")


@dataclass
class ContainerSpec:
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)  # env name -> secret name
    mounts: list[Mount] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)  # withDirectory/withFile/withNewFile
    workdir: str = "/"
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    default_args: list[str] = field(default_factory=list)
    exposed_ports: list[dict[str, Any]] = field(default_factory=list)
    bindings: dict[str, Obj] = field(default_factory=dict)
    execs: list[tuple[Obj, ContainerSpec]] = field(default_factory=list)  # withExec obj + spec before it

    def command(self, args: list[str], use_entrypoint: bool) -> list[str]:
        """The service command: `args`, or the default args when empty; the entrypoint first if asked."""
        argv = list(args) if args else list(self.default_args)
        return [*self.entrypoint, *argv] if use_entrypoint else argv

    def folders(self) -> frozenset[str]:
        """The folders that exist in the container: an image's usual ones, the mount points, what withDirectory,
        withFile and withNewFile made (with their parents) and the workdir. A real engine makes no other
        folder for a command: pg_dump --file=/backup/x.sql fails where /backup was never made."""
        made = {*IMAGE_FOLDERS, self.workdir, *(m.path for m in self.mounts)}
        for added in self.copies:
            made.add(added["path"] if added["field"] == "withDirectory" else posixpath.dirname(added["path"]))
        out: set[str] = set()
        for path in made:
            path = posixpath.normpath("/" + path.strip("/"))
            while path not in out:
                out.add(path)
                path = posixpath.dirname(path)
        return frozenset(out)

    def summary(self) -> dict[str, Any]:
        return {
            "image": self.image, "env": dict(self.env), "secret_env": dict(self.secret_env),
            "mounts": [m.as_record() for m in self.mounts], "copies": list(self.copies),
            "workdir": self.workdir, "user": self.user,
            "exposed_ports": [p["port"] for p in self.exposed_ports],
            "bindings": {alias: svc.id for alias, svc in self.bindings.items()},
        }


def _source_desc(registry: Registry, object_id: str | None) -> str:
    if not object_id:
        return ""
    obj = registry.load(object_id)
    if obj.kind == "CacheVolume":
        return str(obj.args.get("key", ""))
    if obj.kind == "Secret":
        return str(obj.args.get("name", ""))
    for node in reversed(obj.chain()):
        if node.field in {"directory", "file"} and node.parent is not None and node.parent.kind == "Host":
            return "host:" + str(node.args["path"])
        if node.field == "git":
            return "git:" + str(node.args["url"])
    return obj.describe()


def container_spec(registry: Registry, ctr: Obj) -> ContainerSpec:
    """Fold a Container chain into what it is."""
    spec = ContainerSpec()
    for node in ctr.chain():
        a = node.args
        f = node.field
        if node.kind != "Container":
            continue
        if f == "from":
            spec.image = str(a["address"])
            spec.entrypoint, spec.default_args = (list(x) for x in IMAGE_DEFAULTS.get(
                image_name(spec.image), ([], ["sh"])))
        elif f == "withEnvVariable":
            spec.env[a["name"]] = a["value"]
            spec.secret_env.pop(a["name"], None)
        elif f == "withoutEnvVariable":
            spec.env.pop(a["name"], None)
            spec.secret_env.pop(a["name"], None)
        elif f == "withSecretVariable":
            spec.secret_env[a["name"]] = _source_desc(registry, a["secret"])
            spec.env.pop(a["name"], None)
        elif f == "withMountedDirectory":
            spec.mounts.append(Mount(a["path"], "directory", _source_desc(registry, a["source"]),
                                     bool(a.get("readOnly")), owner=a.get("owner", "")))
        elif f == "withMountedCache":
            spec.mounts.append(Mount(a["path"], "cache", _source_desc(registry, a["cache"]),
                                     sharing=a.get("sharing"), owner=a.get("owner", "")))
        elif f == "withMountedFile":
            spec.mounts.append(Mount(a["path"], "file", _source_desc(registry, a["source"])))
        elif f == "withMountedSecret":
            spec.mounts.append(Mount(a["path"], "secret", _source_desc(registry, a["source"])))
        elif f in {"withDirectory", "withFile"}:
            spec.copies.append({"field": f, "path": a["path"], "source": _source_desc(registry, a["source"])})
        elif f == "withNewFile":
            spec.copies.append({"field": f, "path": a["path"], "source": "inline"})
        elif f == "withWorkdir":
            spec.workdir = a["path"]
        elif f == "withUser":
            spec.user = a["name"]
        elif f == "withEntrypoint":
            spec.entrypoint = list(a["args"])
            if not a.get("keepDefaultArgs"):
                spec.default_args = []
        elif f == "withDefaultArgs":
            spec.default_args = list(a["args"])
        elif f == "withExposedPort":
            spec.exposed_ports = [p for p in spec.exposed_ports if p["port"] != a["port"]] + [dict(a)]
        elif f == "withServiceBinding":
            spec.bindings[a["alias"]] = registry.load(a["service"], "Service")
        elif f == "withExec":
            spec.execs.append((node, _snapshot(spec)))
    return spec


def _snapshot(spec: ContainerSpec) -> ContainerSpec:
    """The spec as it stands (without the exec list), safe from later changes."""
    clone = copy.copy(spec)
    clone.env, clone.secret_env, clone.bindings = dict(spec.env), dict(spec.secret_env), dict(spec.bindings)
    clone.mounts, clone.copies = list(spec.mounts), list(spec.copies)
    clone.entrypoint, clone.default_args = list(spec.entrypoint), list(spec.default_args)
    clone.exposed_ports, clone.execs = list(spec.exposed_ports), []
    return clone


def exec_command(spec: ContainerSpec, args: Mapping[str, Any]) -> list[str]:
    argv = list(args["args"])
    if args.get("useEntrypoint"):
        return [*spec.entrypoint, *argv]
    return argv


@dataclass
class ServiceSpec:
    """A container service, or a host tunnel to another service."""

    obj: Obj
    hostname: str
    container: Obj | None = None
    command: list[str] = field(default_factory=list)
    upstream: Obj | None = None  # tunnels
    native: bool = False
    forwards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_tunnel(self) -> bool:
        return self.upstream is not None


def service_spec(registry: Registry, svc: Obj) -> ServiceSpec:
    custom = [o.args["hostname"] for o in svc.chain() if o.kind == "Service" and o.field == "withHostname"]
    base = svc
    while base.field == "withHostname" and base.parent is not None:
        base = base.parent
    if base.field == "tunnel":
        spec = ServiceSpec(svc, custom[-1] if custom else "127.0.0.1",
                           upstream=registry.load(base.args["service"], "Service"),
                           native=bool(base.args.get("native")), forwards=list(base.args.get("ports") or []))
        return spec
    if base.field == "asService" and base.parent is not None:
        ctr = container_spec(registry, base.parent)
        cmd = ctr.command(list(base.args.get("args") or []), bool(base.args.get("useEntrypoint")))
        return ServiceSpec(svc, custom[-1] if custom else short_hash(base.digest), container=base.parent,
                           command=cmd)
    raise GraphQLError(f"unknown service type: {svc.describe()}")
