"""A role that cannot take its port says so and exits, instead of running half-built."""

from __future__ import annotations

import json
import socket
import subprocess
import sys


def test_a_server_whose_peer_port_is_taken_exits_1_and_says_why(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        unused = "tcp://127.0.0.1:9"  # nothing needs to answer: the server fails first
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "roles.cli",
                "server",
                "--name=s",
                f"--data-dir={tmp_path}",
                f"--peer-bind=tcp://127.0.0.1:{port}",
                f"--reference={unused}",
                f"--broker-backend={unused}",
                f"--proxy-pub={unused}",
                f"--proxy-sub={unused}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "role_failed"]
    assert failed and "Address already in use" in failed[0]["error"]
    assert "stopped" in [e["event"] for e in events]  # what had started was stopped
