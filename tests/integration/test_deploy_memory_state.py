"""A coordinator whose SuperLink keeps its state in memory (``coordinator init --state
memory``): with many SuperNodes on few cores, SQLite's "database is locked" lost replies
(docs/deploy.md); the in-memory store forgets the enrolled keys when it stops, so
``start_coordinator`` registers them again and records the node ids it assigns now.

A real SuperLink and SuperNode on loopback, TLS and node authentication; ~1 minute.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from test_deploy import free_port

from fedcare.exceptions import ConfigError
from fedcare.federation.engines.deploy import (
    ProcessExited,
    enroll_site,
    enrolled_sites,
    init_coordinator,
    init_site,
    node_status,
    revoke_site,
    start_coordinator,
    start_site,
    stop_process,
)
from fedcare.federation.engines.deploy.layout import IN_MEMORY, coordinator_settings

pytestmark = pytest.mark.slow


def test_init_refuses_an_unknown_state(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="state must be 'file' or 'memory'"):
        init_coordinator(tmp_path / "coord", state="redis")
    init_coordinator(tmp_path / "mem", state="memory")
    assert coordinator_settings(tmp_path / "mem")[1]["coordinator"]["database"] == IN_MEMORY
    assert not (tmp_path / "mem" / "state.db").exists()


def test_enrolled_sites_survive_a_restart_of_an_in_memory_superlink() -> None:
    root = Path(tempfile.mkdtemp(prefix="fcm-", dir="/tmp"))
    port = free_port()
    coord = root / "coord"
    init_coordinator(coord, port=port, state="memory")
    procs = []
    try:
        superlink = start_coordinator(coord)
        for name in ("north", "south"):
            init_site(root / name, name=name)
            enroll_site(coord, root / name / "node.pub", name=name)
        first = {k: v["node_id"] for k, v in enrolled_sites(coord).items()}
        stop_process(superlink)
        superlink = start_coordinator(coord)  # a fresh in-memory store: keys registered again
        procs.append(superlink)
        second = {k: v["node_id"] for k, v in enrolled_sites(coord).items()}
        assert sorted(second) == ["north", "south"]
        registered = node_status(coord)
        assert all(node_id in registered for node_id in second.values()), (first, second)
        procs.append(start_site(root / "north", coordinator_address=f"127.0.0.1:{port}",
                                ca_cert=coord / "ca.pem", clientappio_port=free_port(),
                                timeout=90))
        # the site's own settings (policy, units, cache folder) reach its ClientApp even
        # when the caller's node config does not name them, as `fedcare site start` does
        from fedcare.federation.engines.deploy.layout import read_toml

        node_config = read_toml(root / "north" / "node_config.toml")
        assert node_config["site-config"] == str((root / "north" / "site.toml").resolve())
        # revoking uses the node id of this start: the key is refused afterwards
        revoke_site(coord, name="south")
        with pytest.raises(ProcessExited, match="Flower exit code 305"):
            start_site(root / "south", coordinator_address=f"127.0.0.1:{port}",
                       ca_cert=coord / "ca.pem", clientappio_port=free_port(), timeout=90)
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def test_the_cli_makes_an_in_memory_coordinator(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fedcare.cli import app

    made = CliRunner().invoke(app, ["coordinator", "init", str(tmp_path / "mem"),
                                    "--state", "memory"])
    assert made.exit_code == 0, made.output
    assert coordinator_settings(tmp_path / "mem")[1]["coordinator"]["database"] == IN_MEMORY
    refused = CliRunner().invoke(app, ["coordinator", "init", str(tmp_path / "x"),
                                       "--state", "redis"])
    assert refused.exit_code == 2 and not (tmp_path / "x" / "coordinator.toml").exists()
