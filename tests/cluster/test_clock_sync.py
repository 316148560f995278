"""Berkeley synchronisation with deliberately skewed clocks, on real processes."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import RawClient, start_cluster, wait_for

pytestmark = pytest.mark.cluster


def adjusted_time(cluster, index: int) -> tuple[float, float]:
    """(server's adjusted time - our time at the middle of the call, round trip)."""
    peer = RawClient(cluster.topology.endpoint(5 + index), timeout=1.0)
    try:
        sent = time.time()
        reply = peer.request("clock")["data"]
        received = time.time()
        return reply["time"] - (sent + received) / 2, received - sent
    finally:
        peer.close()


def rounds(cluster) -> list[dict]:
    events = []
    for path in sorted(cluster.log_dir.glob("server-*.jsonl")):
        for line in path.read_text().splitlines():
            if '"clock_sync_round"' in line:
                events.append(json.loads(line))
    return sorted(events, key=lambda e: e["timestamp"])


def test_skewed_clocks_agree_within_50ms_after_a_round(tmp_path):
    cluster = start_cluster(tmp_path, servers=3, clock_skews=(-2.0, 0.0, 2.0))
    try:
        client = RawClient(cluster.topology.broker)

        def synced() -> bool:
            for _ in range(30):  # rounds run every 10 messages handled by the coordinator
                client.request("users")
            offsets = [adjusted_time(cluster, i)[0] for i in range(3)]
            return max(offsets) - min(offsets) < 0.05

        wait_for(synced, timeout=20, what="clocks within 50 ms")
        client.close()
        offsets = [adjusted_time(cluster, i)[0] for i in range(3)]
        assert max(offsets) - min(offsets) < 0.05, offsets
        measured = rounds(cluster)[0]["offsets"].values()
        assert max(measured) - min(measured) > 1.9  # the skew was real before the first round
    finally:
        cluster.stop()
