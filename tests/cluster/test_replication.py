"""Three replicas that behave as one: faults injected into a real cluster on loopback."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import msgpack
import pytest
import zmq

from tests.cluster.replicas import channel_history, heads, histories_from_every_replica, status
from tests.support import RawClient, start_cluster, wait_for

pytestmark = pytest.mark.cluster


def coordinators(cluster, names) -> set[str | None]:
    return {status(cluster, n)["coordinator"] for n in names}


class Load:
    """Publishes continuously like a bot, remembering exactly which posts were acknowledged.
    Each text is the user, a counter, then `pad`."""

    def __init__(
        self,
        cluster,
        channel: str,
        user: str = "loader",
        pad: str = "",
        timeout: float = 2.5,
    ) -> None:
        self.client = RawClient(cluster.topology.broker, timeout=timeout)
        self.channel, self.user, self.pad = channel, user, pad
        self.acked: list[str] = []
        self.errors: list[str] = []
        self.timeouts = 0
        self.stop = threading.Event()
        self.client.request("channel", channel=channel)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            text = f"{self.user}-{i}{self.pad}"  # every attempt is a new text: no retried post
            i += 1
            try:
                reply = self.client.request(
                    "publish", user=self.user, channel=self.channel, message=text
                )
            except zmq.Again:
                self.timeouts += 1
                continue  # unacknowledged: it may or may not be stored, but never twice
            if reply["data"]["status"] == "OK":
                self.acked.append(text)
            else:
                self.errors.append(reply["data"].get("message", ""))
            time.sleep(0.005)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(10)
        self.client.close()


@pytest.fixture
def cluster(tmp_path):
    cluster = start_cluster(tmp_path, servers=3)
    yield cluster
    cluster.stop()


def test_kill_9_under_load_loses_no_acknowledged_write_and_restart_converges(cluster):
    channel = f"load-{uuid.uuid4().hex[:6]}"
    with Load(cluster, channel) as load:
        wait_for(lambda: len(load.acked) >= 100, what="load running")
        cluster.kill("server-1", signal.SIGKILL)
        count_at_kill = len(load.acked)
        wait_for(lambda: len(load.acked) >= count_at_kill + 100, what="load continues after kill")
    assert not load.errors, load.errors[:5]
    survivors = ["server-0", "server-2"]
    for history in histories_from_every_replica(cluster, channel, rounds=2):
        assert set(load.acked) <= set(history)
        assert len(history) == len(set(history)), "a post is stored twice"

    started = time.monotonic()
    cluster.start_one("server-1")
    wait_for(
        lambda: len({heads(cluster, n) for n in [*survivors, "server-1"]}) == 1,
        timeout=10,
        what="restarted replica converged",
    )
    converge = time.monotonic() - started
    histories = histories_from_every_replica(cluster, channel, rounds=3)
    assert histories[0] == histories[1] == histories[2]
    assert set(load.acked) <= set(histories[0])
    print(f"acked={len(load.acked)} converged_in={converge:.2f}s")


def test_read_your_writes_through_other_replicas(cluster):
    client = RawClient(cluster.topology.broker)
    for i in range(30):
        user, channel = f"ryw-{i}-{uuid.uuid4().hex[:4]}", f"ryw-c{i}-{uuid.uuid4().hex[:4]}"
        assert client.request("login", user=user)["data"]["status"] == "sucesso"
        assert client.request("channel", channel=channel)["data"]["status"] == "sucesso"
        reply = client.request("publish", user=user, channel=channel, message="first")
        assert reply["data"]["status"] == "OK", reply
        assert client.request("message", src="x", dst=user, message="hi")["data"]["status"] == "OK"
        assert channel_history(client, channel) == ["first"]
    client.close()


def test_killing_the_coordinator_announces_a_new_one_within_5_seconds(cluster):
    names = [f"server-{i}" for i in range(3)]
    (old,) = coordinators(cluster, names)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"servers")
    sub.connect(cluster.topology.proxy_sub)
    try:
        wait_for(lambda: sub.poll(100), what="subscription live (coordinator re-announces)")
        sub.recv_multipart()
        cluster.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        new = None
        while time.monotonic() - killed_at < 8 and new is None:
            if sub.poll(100):
                topic, payload = sub.recv_multipart()
                name = msgpack.unpackb(payload)["data"]["coordinator"]
                if topic == b"servers" and name != old:
                    new = name
        elapsed = time.monotonic() - killed_at
    finally:
        sub.close(0)
    assert new is not None and elapsed < 5.0, (new, elapsed)
    alive = [n for n in names if n != old]
    wait_for(lambda: coordinators(cluster, alive) == {new}, what="survivors agree")
    print(f"failover={elapsed:.2f}s new={new}")


def test_reference_down_for_10_seconds_clients_see_no_error(cluster):
    client = RawClient(cluster.topology.broker)
    client.request("channel", channel="refdown")
    cluster.kill("reference", signal.SIGTERM)
    deadline = time.monotonic() + 10
    replies = 0
    while time.monotonic() < deadline:
        reply = client.request("publish", user="r", channel="refdown", message=str(replies))
        assert reply["data"]["status"] == "OK", reply
        replies += 1
    cluster.start_one("reference")
    wait_for(
        lambda: all(status(cluster, f"server-{i}")["reference_up"] for i in range(3)),
        what="servers re-registered",
    )
    assert replies > 50
    client.close()
