"""`bbs up` — the README's main job — runs the topology and stops it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest

from roles.cluster import Cluster, StartFailed, Topology
from tests.support import RawClient, free_base_port, wait_for

pytestmark = pytest.mark.cluster


def test_bbs_up_serves_bots_traffic_and_the_page_and_stops_every_process(tmp_path):
    web = free_base_port(1)
    children: list[psutil.Process] = []
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "roles.cli",
            "up",
            "--base-port=auto",
            f"--data-dir={tmp_path}",
            "--bot-interval=0.1",
            f"--web-port={web}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        chosen = wait_for(lambda: up.stdout.readline(), what="the chosen base port")
        assert chosen.startswith("--base-port auto: ")
        base = int(chosen.split(":")[1])
        banner = wait_for(lambda: up.stdout.readline(), what="banner")
        assert "BBS cluster up: 3 servers, 2 bots" in banner
        url = f"http://127.0.0.1:{web}/"
        line = wait_for(
            lambda: (text := up.stdout.readline()) and "web (browsers)" in text and text,
            what="the web line",
        )
        assert url in line
        children = wait_for(
            lambda: (
                len(psutil.Process(up.pid).children()) == 9 and psutil.Process(up.pid).children()
            ),
            what="9 processes",
        )
        page = wait_for(lambda: urllib.request.urlopen(url, timeout=1).read(), what="the page")
        assert b"/static/app.js" in page
        client = RawClient(f"tcp://127.0.0.1:{base}")

        def bots_posted() -> bool:
            channels = client.request("channels")["data"]["channels"]
            return channels == ["bots-0", "bots-1"] and all(
                len(client.request("history", channel=c)["data"]["messages"]) >= 10
                for c in channels
            )

        wait_for(bots_posted, timeout=30, what="bots posting in their own channels")
        for i in (0, 1):  # each bot under its stable name, in its own channel only
            posts = client.request("history", channel=f"bots-{i}")["data"]["messages"]
            assert {m["user"] for m in posts} == {f"bot-{i}"}
        client.close()
        up.send_signal(signal.SIGTERM)
        assert up.wait(30) == 0
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"orphans: {alive}"
        logs = sorted(p.name for p in (tmp_path / "logs").glob("*.jsonl"))
        crashes = {p.name: p.read_text() for p in (tmp_path / "logs").glob("*.stderr")}
        assert len(crashes) == 9 and set(crashes.values()) == {""}
        assert logs == [
            "bot-0.jsonl",
            "bot-1.jsonl",
            "broker.jsonl",
            "proxy.jsonl",
            "reference.jsonl",
            "server-0.jsonl",
            "server-1.jsonl",
            "server-2.jsonl",
            "web.jsonl",
        ]
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(20)
            except subprocess.TimeoutExpired:
                up.kill()
        for child in children:
            if child.is_running():
                child.kill()


def test_bbs_up_refuses_a_taken_port_before_starting_anything(tmp_path):
    base = free_base_port(8)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 4))  # the reference's port
        taken.listen()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "roles.cli",
                "up",
                f"--base-port={base}",
                f"--data-dir={tmp_path}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    assert f"{base + 4} (reference)" in done.stderr and "nothing was started" in done.stderr
    assert "--base-port auto" in done.stderr
    assert not (tmp_path / "logs").exists()  # no process was started: none logged
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if f"--data-dir={tmp_path}" in (p.info["cmdline"] or [])
    ]


def test_servers_and_bots_never_start_when_the_infrastructure_does_not(tmp_path):
    # every process refuses this setting at start-up, before it binds anything
    topology = Topology(
        base_port=free_base_port(8), data_dir=tmp_path, extra_env={"BBS_LOG_MAX_MB": "abc"}
    )
    cluster = Cluster(topology)
    try:
        with pytest.raises(StartFailed, match=r"did not start: .*BBS_LOG_MAX_MB='abc'"):
            cluster.start(ready_timeout=30)
        assert set(cluster.procs) == {"broker", "proxy", "reference"}
        assert all(proc.poll() is not None for proc in cluster.procs.values())
    finally:
        cluster.stop()
