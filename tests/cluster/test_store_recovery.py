"""A replica whose store is damaged on disk rebuilds it from its peers (real processes)."""

from __future__ import annotations

import json
import signal
import uuid

import pytest

from tests.cluster.replicas import histories_from_every_replica, wait_converged
from tests.support import RawClient, start_cluster

pytestmark = pytest.mark.cluster


def test_a_corrupt_store_is_moved_aside_and_rebuilt_from_the_peers(tmp_path) -> None:
    cluster = start_cluster(tmp_path, servers=3)
    try:
        channel = f"disk-{uuid.uuid4().hex[:6]}"
        client = RawClient(cluster.topology.broker)
        client.request("channel", channel=channel)
        for i in range(800):
            reply = client.request("publish", user="ana", channel=channel, message=f"m{i} " * 50)
            assert reply["data"]["status"] == "OK"
        client.close()
        cluster.kill("server-1", signal.SIGTERM)  # a clean stop: everything is in the main file
        db = tmp_path / "server-1.sqlite3"
        size = db.stat().st_size
        with db.open("r+b") as raw:  # 4 KB of garbage in the middle of the file
            raw.seek(size // 2)
            raw.write(bytes(range(256)) * 16)

        cluster.start_one("server-1")
        wait_converged(cluster)  # the rebuilt replica too
        histories = histories_from_every_replica(cluster, channel, rounds=3)
        assert histories[0] == histories[1] == histories[2]
        assert len(histories[0]) == 800
        lines = [json.loads(t) for t in (tmp_path / "logs" / "server-1.jsonl").open()]
        [unreadable] = [line for line in lines if line["event"] == "store_unreadable"]
        assert "malformed" in unreadable["error"]
    finally:
        cluster.stop()
