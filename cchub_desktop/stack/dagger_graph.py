"""The recipe turned into Dagger objects. Nothing here talks to the engine: the graph is lazy, and the
stack's start() resolves it (each `sync`/`start` is one query), which keeps GraphQL round trips low."""

from __future__ import annotations

from dataclasses import dataclass

import dagger

from cchub_desktop.stack.recipe import (
    CacheMount,
    SecretKey,
    ServiceSpec,
    SourceCopy,
    SourceSpec,
    StackRecipe,
    TunnelSpec,
)


@dataclass(frozen=True)
class StackGraph:
    source: dagger.Directory
    built: dict[str, dagger.Container]   # service name -> container after its build steps
    services: dict[str, dagger.Service]  # service name -> service (with bindings, exposed port, command)

    def tunnel(self, client: dagger.Client, name: str, spec: TunnelSpec) -> dagger.Service:
        return client.host().tunnel(
            self.services[name],
            ports=[dagger.PortForward(backend=spec.container_port, frontend=spec.host_port)])


def source_directory(client: dagger.Client, source: SourceSpec) -> dagger.Directory:
    if source.kind == "local" and source.local_dir is not None:
        return client.host().directory(str(source.local_dir), exclude=list(source.exclude))
    repo = client.git(source.git_url)
    ref = repo.commit(source.commit) if source.commit else repo.ref(source.git_ref)
    return ref.tree(discard_git_dir=True)


def build_graph(client: dagger.Client, recipe: StackRecipe, values: dict[SecretKey, str]) -> StackGraph:
    source = source_directory(client, recipe.source)
    secrets = {env.name: client.set_secret(env.name, values[env.key]) for env in recipe.secret_envs()}
    built: dict[str, dagger.Container] = {}
    services: dict[str, dagger.Service] = {}
    for spec in recipe.services:
        if spec.build_from is not None:
            # the same build as that service (Dagger runs it once); only the caches it lacks are added
            container = built[spec.build_from]
            own = recipe.service(spec.build_from).caches
            container = _with_caches(client, container, tuple(c for c in spec.caches if c not in own))
        else:
            container = _built_container(client, spec, source)
        built[spec.name] = container
        services[spec.name] = _service(client, spec, container, secrets, services)
    return StackGraph(source=source, built=built, services=services)


def _built_container(client: dagger.Client, spec: ServiceSpec, source: dagger.Directory) -> dagger.Container:
    """Image, source, caches and build steps: what only changes with the source or the image, so Dagger
    reuses it from its cache when neither changed."""
    ctr = client.container().from_(spec.image)
    for step in spec.system_steps:
        ctr = ctr.with_exec(list(step.args))
    ctr = _with_sources(ctr, spec.sources, source)
    for new in spec.files:
        ctr = ctr.with_new_file(new.path, new.contents)
    if spec.workdir is not None:
        ctr = ctr.with_workdir(spec.workdir)
    ctr = _with_caches(client, ctr, spec.caches)
    for name, value in spec.build_env:
        ctr = ctr.with_env_variable(name, value)
    for step in spec.build_steps:
        ctr = ctr.with_exec(list(step.args))
    return _with_sources(ctr, spec.late_sources, source)


def _with_sources(ctr: dagger.Container, copies: tuple[SourceCopy, ...], source: dagger.Directory) -> dagger.Container:
    for copy in copies:
        if copy.file:
            ctr = ctr.with_file(copy.path, source.file(copy.subdir))
        else:
            ctr = ctr.with_directory(copy.path, source.directory(copy.subdir))
    return ctr


def _with_caches(client: dagger.Client, ctr: dagger.Container, caches: tuple[CacheMount, ...]) -> dagger.Container:
    for cache in caches:
        ctr = ctr.with_mounted_cache(cache.path, client.cache_volume(cache.volume),
                                     sharing=dagger.CacheSharingMode[cache.sharing], owner=cache.owner)
    return ctr


def _service(client: dagger.Client, spec: ServiceSpec, built: dagger.Container,
             secrets: dict[str, dagger.Secret], services: dict[str, dagger.Service]) -> dagger.Service:
    """Run-time settings on top of the build: env, secrets, the project folder, bindings, the port, and the
    long-running process as the service's command (never a with_exec)."""
    ctr = built
    for name, value in spec.env:
        ctr = ctr.with_env_variable(name, value)
    for env in spec.secrets:
        ctr = ctr.with_secret_variable(env.env, secrets[env.name])
    for mount in spec.mounts:
        folder = client.host().directory(str(mount.host_path), exclude=list(mount.exclude))
        ctr = ctr.with_mounted_directory(mount.path, folder, read_only=mount.read_only)
    for alias in spec.bindings:
        ctr = ctr.with_service_binding(alias, services[alias])
    if spec.port is not None:
        ctr = ctr.with_exposed_port(spec.port)
    return ctr.as_service(args=list(spec.command), use_entrypoint=spec.use_entrypoint)
