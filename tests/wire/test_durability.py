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
