"""The log names each host tunnel by its service and address, not by the engine's port pairs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterStack, StackLog
from tests.test_stack import make_config, run_and_stop


def test_each_tunnel_is_named_by_its_service_and_address(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                                         project_dir: Path) -> None:
    config = make_config(project_dir, port_block)
    log = StackLog()
    asyncio.run(run_and_stop(CommandCenterStack(config, AppSettings(), log)))
    hub = log.text(service="hub")
    assert f"[hub] backend on http://127.0.0.1:{port_block.backend} " in hub
    assert f"[hub] frontend on http://127.0.0.1:{port_block.frontend} " in hub
    assert "postgres on" not in hub   # not exposed: no tunnel


def test_exposed_databases_are_named_with_their_host_port(fake_dagger_env: FakeDagger, port_block: FreePortBlock,
                                                         project_dir: Path) -> None:
    config = make_config(project_dir, port_block, expose_db=True)
    log = StackLog()
    asyncio.run(run_and_stop(CommandCenterStack(config, AppSettings(), log)))
    hub = log.text(service="hub")
    assert f"[hub] postgres on 127.0.0.1:{port_block.postgres} " in hub
    assert f"[hub] redis on 127.0.0.1:{port_block.redis} " in hub
