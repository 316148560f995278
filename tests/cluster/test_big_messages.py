"""The largest legal messages replicate (real processes): a push, a sync page and a history
reply stay within the frame a receiver accepts, however far behind a replica fell."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import uuid

import pytest

from ops.log_reader import unbatch
from tests.cluster.replicas import heads, status, whole_history
from tests.cluster.test_replication import Load
from tests.support import RawClient, start_cluster, wait_for
from transport import codec
from transport.codec import MAX_FRAME_BYTES
from transport.fields import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.cluster

PAD = "\U0001f642" * (MAX_MESSAGE_CHARS - 20)  # about 40 KB of UTF-8 per post
NAMES = ["server-0", "server-1", "server-2"]
MAX_STALL = 2.4  # seconds server-2 may stay stopped: less than the reference's 3 s liveness


class Acknowledgements:
    """The `write_acknowledged` entries the servers logged since the last `since()`."""

    def __init__(self, log_dir) -> None:
        self.log_dir = log_dir
        self.seen = dict.fromkeys(NAMES, 0)

    def _all(self, name: str) -> list[dict]:
        with (self.log_dir / f"{name}.jsonl").open() as log:
            lines = [json.loads(t) for t in log if '"writes_acknowledged"' in t]
        return [entry for line in lines for entry in unbatch(line)]

    def since(self) -> list[dict]:
        new = []
        for name in NAMES:
            lines = self._all(name)
            new += lines[self.seen[name] :]
            self.seen[name] = len(lines)
        return new


def stored_log(db) -> list[str]:
    """The messages a replica's store holds, in history order (read-only, beside the server)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as store:
        rows = store.execute(
            "SELECT message FROM events WHERE op = 'publish' ORDER BY clock, origin, seq"
        )
        return [message for (message,) in rows]


def test_the_largest_messages_replicate_even_after_a_replica_fell_behind(tmp_path) -> None:
    cluster = start_cluster(tmp_path, servers=3)
    try:
        channel = f"big-{uuid.uuid4().hex[:6]}"
        with contextlib.ExitStack() as stack:
            loads = [
                stack.enter_context(Load(cluster, channel, f"big{i}", PAD, timeout=0.5))
                for i in range(12)
            ]
            wait_for(lambda: sum(len(load.acked) for load in loads) >= 20, what="load running")
            acks = Acknowledgements(tmp_path / "logs")
            acks.since()
            # server-2 stalls: its peers go on without it until what it lacks from one of
            # them is more than one frame can carry
            without: list[str] = []  # origins of the writes acknowledged without server-2

            def backlog() -> int:
                without.extend(a["id"].split(":")[0] for a in acks.since() if a["copies"] < 3)
                return max(without.count(origin) for origin in NAMES) * len(PAD.encode())

            cluster.procs["server-2"].send_signal(signal.SIGSTOP)
            try:
                wait_for(
                    lambda: backlog() > MAX_FRAME_BYTES,
                    timeout=MAX_STALL,
                    interval=0.1,
                    what="a backlog larger than a frame",
                )
            finally:
                cluster.procs["server-2"].send_signal(signal.SIGCONT)
            acked = sum(len(load.acked) for load in loads)
            wait_for(
                lambda: sum(len(load.acked) for load in loads) >= acked + 20,
                what="load goes on after the stall",
            )
        for load in loads:
            assert not load.errors, load.errors[:1]

        wait_for(
            lambda: len({heads(cluster, n) for n in NAMES}) == 1,
            timeout=30,
            what="replicas converged",
        )
        wait_for(
            lambda: all(status(cluster, n)["lagging"] == [] for n in NAMES),
            timeout=15,
            what="the stalled replica healthy again (its pushes answered)",
        )
        logs = [stored_log(tmp_path / f"{name}.sqlite3") for name in NAMES]
        assert logs[0] == logs[1] == logs[2]
        assert {text for load in loads for text in load.acked} <= set(logs[0])

        # every write from now on is durable on every replica before it is acknowledged
        acks.since()
        client = RawClient(cluster.topology.broker)
        for i in range(9):
            reply = client.request("publish", user="after", channel=channel, message=f"{i}{PAD}")
            assert reply["data"]["status"] == "OK", reply
        final: list[dict] = []
        wait_for(lambda: len(final.extend(acks.since()) or final) >= 9, what="acks logged")
        assert [a["copies"] for a in final] == [3] * 9

        reply = client.request("history", channel=channel, limit=1000)  # a page of such posts
        assert 1 < len(reply["data"]["messages"]) < 1000
        assert len(codec.pack(reply)) < MAX_FRAME_BYTES
        assert whole_history(client, channel) == stored_log(tmp_path / "server-0.sqlite3")
        client.close()
    finally:
        cluster.stop()
