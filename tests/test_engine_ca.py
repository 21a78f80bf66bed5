# ruff: noqa: F811  (the fixture is imported here and then requested by name)
"""An engine with a custom CA (a company's TLS-inspecting proxy): the real engine installs it into every
container's system bundle, but the node binary of the official node images trusts only its built-in roots,
so the frontend's `npm ci` failed there with SELF_SIGNED_CERT_IN_CHAIN while pip (the system bundle) worked.
The frontend's build tells node to add the system bundle."""

from __future__ import annotations

import dagger
import pytest
from fake_dagger.fixtures import FakeDagger
from fake_dagger.sdk_helpers import run as run_sdk
from fake_dagger.sdk_helpers import sdk_config

from cchub_desktop.store import ProjectStatus
from tests.test_reliability_faults import Hub, hub, run  # noqa: F401  (the fixture)


def test_the_frontend_builds_behind_a_proxy_whose_ca_the_engine_installs(hub: Hub) -> None:
    hub.fake.set(engine_ca=1)
    pid = hub.add("Alpha")

    async def scenario() -> None:
        await hub.orch.start(pid)
        assert hub.orch.state(pid) == ProjectStatus.RUNNING, hub.orch.message(pid)
        await hub.orch.aclose()

    run(scenario())
    (npm_ci,) = [e for e in hub.fake.journal.execs() if e["command"] == ["npm", "ci"]]
    assert npm_ci["exit_code"] == 0


def test_the_test_engine_fails_npm_behind_that_proxy_without_the_system_bundle(
        fake_dagger_env: FakeDagger) -> None:
    fake_dagger_env.set(engine_ca=1)

    async def body() -> None:
        async with dagger.Connection(sdk_config()) as client:
            node = client.container().from_("node:20-alpine")
            with pytest.raises(dagger.ExecError) as failed:
                await node.with_exec(["npm", "ci"]).sync()
            assert "SELF_SIGNED_CERT_IN_CHAIN" in failed.value.stderr
            await node.with_env_variable("NODE_EXTRA_CA_CERTS", "/etc/ssl/certs/ca-certificates.crt") \
                .with_exec(["npm", "ci"]).sync()

    run_sdk(body)
