"""An acknowledged write survives kill -9 of the server that acknowledged it."""

from __future__ import annotations

import signal

from tests.support import RawClient, start_cluster, wait_for


def test_acknowledged_publishes_survive_kill_9_and_restart(tmp_path):
    cluster = start_cluster(tmp_path, servers=1)
    try:
        client = RawClient(cluster.topology.broker)
        client.request("channel", channel="duravel")
        acked = []
        for i in range(200):
            reply = client.request("publish", user="ana", channel="duravel", message=f"n{i}")
            if reply["data"]["status"] == "OK":
                acked.append(f"n{i}")
        cluster.kill("server-0", signal.SIGKILL)
        cluster.start_one("server-0")

        def history() -> list[str]:
            reply = client.request("history", channel="duravel", limit=1000)
            return [m["message"] for m in reply["data"].get("messages", [])]

        stored = wait_for(history, timeout=30, what="server back with history")
        assert len(acked) == 200
        assert stored == acked
        client.close()
    finally:
        cluster.stop()


def test_a_restarted_server_continues_its_lamport_clock_from_its_store(tmp_path):
    cluster = start_cluster(tmp_path, servers=1)
    try:
        client = RawClient(cluster.topology.broker)
        client.request("channel", channel="ordem")
        for i in range(30):
            client.request("publish", user="ana", channel="ordem", message=f"before {i}")
        cluster.kill("server-0", signal.SIGKILL)
        cluster.start_one("server-0")
        fresh = RawClient(cluster.topology.broker)  # a client whose clock starts at 0
        wait_for(
            lambda: (
                fresh.request("publish", user="bia", channel="ordem", message="after")["data"][
                    "status"
                ]
                == "OK"
            ),
            timeout=30,
            what="server back",
        )
        newest = fresh.request("history", channel="ordem", limit=1)["data"]["messages"]
        assert [m["message"] for m in newest] == ["after"]
        client.close()
        fresh.close()
    finally:
        cluster.stop()
