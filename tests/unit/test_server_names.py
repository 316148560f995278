"""Servers are named from 0 alike in `bbs up` and in compose (compose/server-slot.sh)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from roles.cluster import Topology

SLOT = Path(__file__).resolve().parents[2] / "compose" / "server-slot.sh"


def claimed_name(data_dir: Path) -> str:
    env = {**os.environ, "BBS_DATA_DIR": str(data_dir)}
    env.pop("BBS_NAME", None)
    done = subprocess.run(
        ["sh", str(SLOT), "sh", "-c", 'echo "$BBS_NAME"'],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout.splitlines()[-1]  # after the line that says which slot it claimed


def test_compose_slots_are_named_as_bbs_up_names_its_servers(tmp_path) -> None:
    topology = Topology(servers=2)
    assert claimed_name(tmp_path) == topology.server_name(0) == "server-0"
    with open(tmp_path / "server-0.lock", "a") as held:  # a live server holds slot 0
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert claimed_name(tmp_path) == topology.server_name(1) == "server-1"
