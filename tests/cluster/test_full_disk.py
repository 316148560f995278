"""A replica whose disk is full (real processes; the cap of --max-db-mb, set at run time with
the operator service `store_limit`, fails writes exactly as a full disk does): it refuses
writes with `erro`, acknowledges nothing it did not store, and once space is back it catches
up to the same history as its peers without a restart."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.cluster.replicas import histories_from_every_replica, wait_converged
from tests.support import RawClient, start_cluster, wait_for
from transport.fields import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.cluster

PAD = "x" * (MAX_MESSAGE_CHARS - 20)  # each post needs fresh pages in the database
FULL = "cannot store: database or disk is full"


def store_limit(cluster, index: int, max_db_mb: float) -> str:
    """Set server i's cap through its server-to-server port; the reply's status."""
    peer = RawClient(cluster.topology.endpoint(5 + index))
    try:
        return peer.request("store_limit", max_db_mb=max_db_mb)["data"]["status"]
    finally:
        peer.close()


def log_events(tmp_path, name: str, event: str) -> list[dict]:
    with (tmp_path / "logs" / f"{name}.jsonl").open() as log:
        return [line for line in map(json.loads, log) if line["event"] == event]


def test_a_full_replica_refuses_writes_then_catches_up_once_space_is_back(tmp_path) -> None:
    cluster = start_cluster(tmp_path, servers=3)
    try:
        channel = f"full-{uuid.uuid4().hex[:6]}"
        client = RawClient(cluster.topology.broker)
        assert client.request("channel", channel=channel)["data"]["status"] == "sucesso"
        assert store_limit(cluster, 1, 0.001) == "OK"  # no room left

        acked, refused = [], []
        for i in range(30):  # the broker hands a third of them to server-1
            text = f"{i}-{PAD}"
            reply = client.request("publish", user="ana", channel=channel, message=text)
            (acked if reply["data"]["status"] == "OK" else refused).append(text)
            if reply["data"]["status"] != "OK":
                assert reply["data"]["message"] == FULL, reply
        assert refused and acked
        failures = log_events(tmp_path, "server-1", "store_append_failed")
        assert len(failures) == len({f["error"] for f in failures})  # once per kind
        assert FULL in {f["error"] for f in failures}

        assert store_limit(cluster, 1, 0) == "OK"  # space is back
        wait_converged(cluster)  # the full replica caught up
        histories = histories_from_every_replica(cluster, channel, rounds=3)
        assert histories[0] == histories[1] == histories[2]
        assert sorted(histories[0]) == sorted(acked)  # every OK, and no refused write anywhere
        for i in range(3):  # every replica takes writes again
            reply = client.request("publish", user="ana", channel=channel, message=f"again {i}")
            assert reply["data"]["status"] == "OK", reply
        client.close()
        wait_for(  # info lines reach the file within the log writer's 0.1 s
            lambda: log_events(tmp_path, "server-1", "store_append_recovered"),
            what="store_append_recovered logged",
        )
    finally:
        cluster.stop()
