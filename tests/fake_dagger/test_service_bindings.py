"""Stopping a service others are bound to, as Dagger v0.21.8 did it (a probe on the real engine, 2026-12-06): the
services bound to it end, a host tunnel to them stops listening, and stopping and starting them again (the
tunnel too) brings everything back under the same hostnames."""
# ruff: noqa: F811  (the fixture is imported here and then requested by name)

from __future__ import annotations

import dagger

from .fixtures import FakeDagger, fake_dagger_env, free_ports, port_is_free  # noqa: F401
from .sdk_helpers import http_get, run
from .sdk_helpers import sdk_config as config


def test_a_stopped_binding_ends_its_dependents_and_their_tunnel_until_both_restart(
        fake_dagger_env: FakeDagger) -> None:
    (port,) = free_ports(1)
    seen: dict[str, object] = {}

    async def body() -> None:
        async with dagger.Connection(config()) as client:
            redis = await client.container().from_("redis:7-alpine").with_exposed_port(6379).as_service().start()
            api = await (client.container().from_("python:3.11-slim").with_service_binding("redis", redis)
                         .with_exposed_port(8000).as_service(args=["uvicorn", "app.main:app"]).start())
            tunnel = await client.host().tunnel(api, ports=[dagger.PortForward(backend=8000, frontend=port)]).start()
            seen["before"] = http_get(port, "/health")[0]
            hostname = await redis.hostname()
            await redis.stop()
            seen["stopped"] = port_is_free(port)          # the tunnel no longer listens
            redis = await redis.start()
            seen["same hostname"] = await redis.hostname() == hostname
            seen["redis only"] = port_is_free(port)      # the dependent stays ended
            api = await api.start()
            await tunnel.stop()
            tunnel = await tunnel.start()
            seen["after"] = http_get(port, "/health")[0]
            await tunnel.stop()

    run(body)
    assert seen == {"before": 200, "stopped": True, "same hostname": True, "redis only": True, "after": 200}
    ended = fake_dagger_env.journal.services("ended")
    assert [r["reason"] for r in ended] == ["binding redis stopped"]
