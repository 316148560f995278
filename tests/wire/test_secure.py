"""Secure mode on real processes: every forged internal call is refused at the handshake
(no key, or a key not in the allow-list), while plain clients are still served through the
broker frontend and the proxy's XPUB."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from ops import status
from roles.chat_client import ChatClient
from roles.cluster import Cluster
from roles.secure import client_curve
from tests.support import (
    RawClient,
    free_base_port,
    handshake_refused,
    server_status,
    start_cluster,
    wait_for,
)
from transport import keys, sockets
from transport.devices import Device
from transport.keys import ClusterKeys, KeyPair, fresh_pair


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data = tmp_path_factory.mktemp("secure")
    running = start_cluster(data, keys=keys.create(data / "keys"))
    yield running
    running.stop()


def cluster_keys(cluster: Cluster) -> ClusterKeys:
    assert cluster.topology.keys is not None
    return ClusterKeys(cluster.topology.keys)


def rogues(cluster: Cluster, role: str) -> dict[str, tuple[KeyPair, bytes] | None]:
    """The two intruders: no key at all, and a key of its own that no one allow-listed."""
    return {"no key": None, "unknown key": (fresh_pair(), cluster_keys(cluster).public(role))}


def forged(service: str, **data: Any) -> bytes:
    body = {"service": service, "data": {**data, "timestamp": time.time(), "clock": 1}}
    return msgpack.packb(body)


def rogue_socket(kind: int, curve: tuple[KeyPair, bytes] | None) -> zmq.Socket:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if curve is not None:
        sockets.curve_client(sock, *curve)
    return sock


@pytest.mark.parametrize("who", ["no key", "unknown key"])
@pytest.mark.parametrize(
    "service, data",
    [
        ("replicate", {"origin": "evil", "events": [{"id": "evil:1", "operation": "login"}]}),
        ("adjust", {"delta": 3600.0}),
        ("sync", {"heads": {}, "limit": 1000}),
        ("store_limit", {"max_db_mb": 0.001}),
        ("election", {}),
        ("status", {}),
    ],
)
def test_a_forged_peer_call_gets_no_answer(
    cluster: Cluster, who: str, service: str, data: dict[str, Any]
) -> None:
    peer = RawClient(
        cluster.topology.endpoint(5), timeout=0.5, curve=rogues(cluster, "server")[who]
    )
    try:
        with pytest.raises(zmq.Again):
            peer.send_frames([forged(service, **data)])
    finally:
        peer.close()


@pytest.mark.parametrize("who", ["no key", "unknown key"])
def test_a_forged_rank_gets_no_answer_from_the_reference(cluster: Cluster, who: str) -> None:
    ref = RawClient(
        cluster.topology.endpoint(4), timeout=0.5, curve=rogues(cluster, "reference")[who]
    )
    try:
        with pytest.raises(zmq.Again):
            ref.send_frames([forged("rank", user="server-0", address="tcp://10.6.6.6:5560")])
    finally:
        ref.close()


def test_bbs_status_asks_with_the_server_key(cluster: Cluster) -> None:
    reference = cluster.topology.endpoint(4)
    out = io.StringIO()
    assert status.run(["--reference", reference, "--json"], out=out) == 1  # no key: no answer
    out = io.StringIO()
    keyed = ["--reference", reference, "--keys", str(cluster.topology.keys), "--json"]
    assert status.run(keyed, out=out) == 0
    servers = json.loads(out.getvalue())["servers"]
    assert sorted(s["name"] for s in servers if s["status"]) == ["server-0", "server-1", "server-2"]


@pytest.mark.parametrize("who", ["no key", "unknown key"])
def test_a_rogue_server_on_the_broker_backend_never_gets_a_request(
    cluster: Cluster, who: str
) -> None:
    rogue = rogue_socket(zmq.ROUTER, rogues(cluster, "broker")[who])
    client = RawClient(cluster.topology.broker)
    try:
        handshake_refused(rogue, cluster.topology.endpoint(1))
        for _ in range(12):  # round-robin would hand the rogue one in four
            assert client.request("users")["data"]["users"] is not None
        assert not rogue.poll(0)
    finally:
        rogue.close(0)
        client.close()


@pytest.mark.parametrize("who", ["no key", "unknown key"])
def test_a_keyless_publisher_cannot_inject_posts_or_elections(cluster: Cluster, who: str) -> None:
    seen: list[Any] = []
    watcher = ChatClient(cluster.topology.broker, cluster.topology.proxy_sub, seen.append)
    publisher = rogue_socket(zmq.PUB, rogues(cluster, "proxy")[who])
    try:
        assert watcher.login("watcher")["status"] == "sucesso"
        watcher.call("channel", channel="news")
        watcher.subscribe("news")
        handshake_refused(publisher, cluster.topology.endpoint(2))
        election = {"service": "election", "data": {"coordinator": "evil"}, "coordinator": "evil"}
        fake = {"service": "publish", "user": "evil", "channel": "news", "message": "fake"}
        for _ in range(20):
            publisher.send_multipart([b"servers", msgpack.packb(election)])
            publisher.send_multipart([b"news", msgpack.packb(fake)])
        # a real post travels the same proxy: once it arrived, the fake ones would have too
        assert (
            watcher.call("publish", user="watcher", channel="news", message="real")["status"]
            == "OK"
        )
        wait_for(lambda: any(d.message == "real" for d in seen), what="the real post")
        assert [d.message for d in seen] == ["real"]
        assert server_status(cluster, 0)["coordinator"] != "evil"
    finally:
        publisher.close(0)
        watcher.close()


def test_the_broker_serves_plain_and_encrypted_clients_on_one_frontend(tmp_path: Path) -> None:
    """A ROUTER bound twice: plain for every team's clients, CURVE (any client key) for ours;
    a worker with the server key behind the allow-listed backend answers both."""
    out = keys.create(tmp_path / "keys")
    server = ClusterKeys(out)
    plain, secure, back, nowhere = (f"tcp://127.0.0.1:{free_base_port(1)}" for _ in range(4))
    broker = Device("broker", plain.replace("127.0.0.1", "*"), back, server, secure).start()
    worker = rogue_socket(zmq.REP, server.as_server("broker"))
    worker.connect(back)
    answered = threading.Thread(target=lambda: [worker.send(worker.recv()) for _ in range(2)])
    answered.start()
    encrypted = ChatClient(
        secure, nowhere, lambda _: None, curve=client_curve(secure, "", str(out))
    )
    clear = RawClient(plain, timeout=5.0)
    wrong = RawClient(secure, timeout=0.5)
    try:
        assert clear.request("users")["service"] == "users"
        assert encrypted.call("users") is not None
        with pytest.raises(zmq.Again):
            wrong.request("users")  # plain bytes on the encrypted endpoint: refused
    finally:
        answered.join(10)
        for sock in (clear, wrong):
            sock.close()
        encrypted.close()
        worker.close(0)
        broker.stop()


def test_the_replication_topic_carries_nothing_in_secure_mode(cluster: Cluster) -> None:
    listener = zmq.Context.instance().socket(zmq.SUB)  # anyone may reach the XPUB
    listener.setsockopt(zmq.LINGER, 0)
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    listener.connect(cluster.topology.endpoint(3))
    client = RawClient(cluster.topology.broker)
    try:
        channel = f"quiet-{time.monotonic_ns()}"
        client.request("channel", channel=channel)
        heard: list[bytes] = []

        def posted_and_heard_on_the_channel() -> bool:
            client.request("publish", user="ana", channel=channel, message="seen by members")
            while listener.poll(100):
                heard.append(listener.recv_multipart()[0])
            return channel.encode() in heard

        wait_for(posted_and_heard_on_the_channel, what="the subscription in place")
        assert b"replication" not in heard  # servers replicate by push only
    finally:
        client.close()
        listener.close(0)
