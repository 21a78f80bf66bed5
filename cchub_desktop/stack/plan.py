"""The plan: the container graph of a project's stack as plain data (no secret values), for `cchub plan`.

Built from the same recipe the Dagger builder uses (recipe.py), so the plan cannot drift from what runs.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from typing import Any

from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.recipe import ServiceSpec, StackRecipe, build_recipe
from cchub_desktop.stack.source_pin import VERIFIED_DATE, describe_commit, local_head, verified_commit

TUNNEL_LISTEN = "0.0.0.0"


@dataclass(frozen=True)
class MountPlan:
    path: str
    source: str
    read_only: bool
    exclude: list[str]


@dataclass(frozen=True)
class CachePlan:
    path: str
    volume: str
    sharing: str


@dataclass(frozen=True)
class TunnelPlan:
    host_port: int
    container_port: int
    listen: str
    url: str


@dataclass(frozen=True)
class ServicePlan:
    name: str
    image: str
    sources: list[str]             # "backend/ -> /app/backend", one per folder of the source copied in
    workdir: str | None
    build_steps: list[str]
    env: dict[str, str]
    secrets: dict[str, str]        # variable -> Dagger secret name (never the value)
    mounts: list[MountPlan]
    caches: list[CachePlan]
    bindings: list[str]
    command: list[str]
    use_entrypoint: bool
    exposed_ports: list[int]
    tunnels: list[TunnelPlan]
    health: str | None
    files: list[str] = dataclasses.field(default_factory=list)          # written by the app before the build
    late_sources: list[str] = dataclasses.field(default_factory=list)   # copied after the install steps
    build_from: str | None = None                                       # runs that service's build


@dataclass(frozen=True)
class StackPlan:
    project: str
    data_key: str
    source: str
    source_commit: str | None       # the pinned commit (git), a local checkout's HEAD, or None
    source_commit_date: str | None  # ISO date of that commit, when known
    source_state: str               # "pinned to abc1234 (2026-11-30) of main", "not pinned yet ...", ...
    expose_db: bool
    services: list[ServicePlan]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def service(self, name: str) -> ServicePlan:
        return next(s for s in self.services if s.name == name)


def build_plan(config: CommandCenterConfig) -> StackPlan:
    recipe = build_recipe(config)
    src = config.source
    if src.local_dir is not None:
        head = local_head(src.local_dir)
        commit, date, state = head.commit, head.date, head.describe()
    elif src.commit:
        commit, date = src.commit, src.commit_date
        state = f"pinned to {describe_commit(src.commit, src.commit_date)} of {src.git_ref}"
    elif (verified := verified_commit(src.git_url, src.git_ref)) is not None:
        commit, date = None, None
        state = f"not pinned yet (the first start pins the verified commit {describe_commit(verified, VERIFIED_DATE)})"
    else:
        commit, date, state = None, None, f"not pinned yet (the first start pins the newest commit of {src.git_ref})"
    return StackPlan(project=recipe.project, data_key=recipe.data_key, source=recipe.source.describe(),
                     source_commit=commit, source_commit_date=date.isoformat() if date else None,
                     source_state=state, expose_db=config.expose_db,
                     services=[_service_plan(recipe, s) for s in recipe.services])


def _service_plan(recipe: StackRecipe, spec: ServiceSpec) -> ServicePlan:
    mounts = [MountPlan(m.path, f"project folder {m.host_path}", m.read_only, list(m.exclude))
              for m in spec.mounts]
    tunnels = []
    if spec.tunnel is not None:
        tunnels.append(TunnelPlan(spec.tunnel.host_port, spec.tunnel.container_port, TUNNEL_LISTEN,
                                  f"http://localhost:{spec.tunnel.host_port}" if spec.health_path else
                                  f"localhost:{spec.tunnel.host_port}"))
    health = None
    if spec.health_path and spec.tunnel is not None:
        health = f"GET http://localhost:{spec.tunnel.host_port}{spec.health_path}"
    elif spec.port:
        health = f"engine dials port {spec.port}"
    return ServicePlan(
        name=spec.name, image=spec.image,
        sources=[c.describe() for c in spec.sources],
        files=[f.path for f in spec.files], late_sources=[c.describe() for c in spec.late_sources],
        build_from=spec.build_from,
        workdir=spec.workdir,
        build_steps=[shlex.join(step.args) for step in spec.system_steps + spec.build_steps],
        env=dict(spec.build_env + spec.env),
        secrets={s.env: s.name for s in spec.secrets},
        mounts=mounts,
        caches=[CachePlan(c.path, c.volume, c.sharing) for c in spec.caches],
        bindings=list(spec.bindings),
        command=list(spec.command), use_entrypoint=spec.use_entrypoint,
        exposed_ports=[spec.port] if spec.port is not None else [], tunnels=tunnels, health=health,
    )


def format_plan(plan: StackPlan) -> str:
    """The plan as a human reads it, one block per service (like `docker compose config`)."""
    out = [f"project: {plan.project} (data key {plan.data_key})", f"source:  {plan.source}",
           f"commit:  {plan.source_state}", ""]
    for svc in plan.services:
        out.append(f"{svc.name}:")
        rows: list[tuple[str, str]] = [("image", svc.image)]
        if svc.build_from:
            rows.append(("build", f"the {svc.build_from}'s (same image, source and install)"))
        rows += [("copy", f"source {copy}") for copy in svc.sources]
        rows += [("file", f"{path} (written by the app)") for path in svc.files]
        if svc.workdir:
            rows.append(("workdir", svc.workdir))
        if not svc.build_from:
            rows += [("build", step) for step in svc.build_steps]
            rows += [("copy", f"source {copy} (after the install: a source change keeps the install)")
                     for copy in svc.late_sources]
        rows += [("env", f"{k}={v}") for k, v in svc.env.items()]
        rows += [("secret", f"{k} <- secret {v}") for k, v in svc.secrets.items()]
        for m in svc.mounts:
            flag = "ro" if m.read_only else "rw"
            rows.append(("mount", f"{m.path} ({flag}) <- {m.source}, excluding {', '.join(m.exclude)}"))
        rows += [("cache", f"{c.path} <- volume {c.volume} ({c.sharing.lower()})") for c in svc.caches]
        rows += [("binding", f"{alias} (hostname)") for alias in svc.bindings]
        command = shlex.join(svc.command)
        rows.append(("command", f"{command}  [image entrypoint first]" if svc.use_entrypoint else command))
        rows.append(("exposes", ", ".join(str(p) for p in svc.exposed_ports) or "no port"))
        if svc.tunnels:
            rows += [("tunnel", f"{t.listen}:{t.host_port} -> {svc.name}:{t.container_port}  ({t.url})")
                     for t in svc.tunnels]
        else:
            rows.append(("tunnel", "none (database ports are not exposed to the host)"))
        if svc.health:
            rows.append(("health", svc.health))
        out += [f"  {key + ':':<9} {value}" for key, value in rows]
        out.append("")
    out.append("Host tunnels listen on all interfaces (0.0.0.0): other machines on your network can reach them.")
    return "\n".join(out)
