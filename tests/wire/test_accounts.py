"""Accounts and sealed private messages on real processes (broker, proxy, reference, three
servers): a name claimed through one replica holds on all of them and after every server
restarts; a subscriber of a user's topic sees only ciphertext while the user's client reads it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from actors.base import Node
from roles.chat_client import ChatClient, Delivery
from roles.cluster import Cluster
from tests.support import RawClient, server_status, settled, start_cluster, wait_for
from transport import protocol

pytestmark = pytest.mark.cluster

SERVERS = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = start_cluster(tmp_path, servers=SERVERS)
    try:
        yield running
    finally:
        running.stop()


def data(client: RawClient, service: str, **fields: Any) -> dict[str, Any]:
    return client.request(service, **fields)["data"]


def every_replica_holds_the_account(cluster: Cluster) -> bool:
    return all(server_status(cluster, i)["accounts"] == 1 for i in range(SERVERS))


def test_a_claim_holds_on_every_replica_and_after_all_servers_restart(cluster: Cluster) -> None:
    """...and a password change voids the tokens issued before it, on every replica."""
    client = RawClient(cluster.topology.broker)
    try:
        claim = data(client, "login", user="ana", password="correct horse")
        assert claim["status"] == "sucesso" and claim["token"]
        token = claim["token"]
        wait_for(lambda: every_replica_holds_the_account(cluster), what="account replicated")
        data(client, "channel", channel="geral")
        post = {"user": "ana", "channel": "geral", "message": "hi"}
        for _ in range(2 * SERVERS):  # the broker spreads these over the replicas
            assert protocol.is_claimed_refusal(data(client, "login", user="ana"))
            assert data(client, "publish", **post)["status"] == "erro"
            assert data(client, "publish", **post, token=token)["status"] == "OK"

        for i in range(SERVERS):
            cluster.kill(cluster.topology.server_name(i), signal.SIGTERM)
        for i in range(SERVERS):
            cluster.start_one(cluster.topology.server_name(i))
        wait_for(lambda: settled(cluster), timeout=30, what="cluster settled again")
        wait_for(lambda: every_replica_holds_the_account(cluster), what="account reloaded")

        for _ in range(2 * SERVERS):
            assert protocol.is_claimed_refusal(data(client, "login", user="ana"))
            assert data(client, "publish", **post, token=token)["status"] == "OK"
        again = data(client, "login", user="ana", password="correct horse")
        assert again["status"] == "sucesso" and again["token"]
        assert data(client, "login", user="bob")["status"] == "sucesso"  # open names stay open

        change = {"password": "correct horse", "new_password": "battery staple"}
        new_token = data(client, "login", user="ana", **change)["token"]

        def old_token_void_everywhere() -> bool:
            tries = [data(client, "publish", **post, token=token) for _ in range(2 * SERVERS)]
            return all(reply["status"] == "erro" for reply in tries)

        wait_for(old_token_void_everywhere, what="the old token refused by every replica")
        assert data(client, "publish", **post, token=new_token)["status"] == "OK"
    finally:
        client.close()


def test_a_sealed_message_is_ciphertext_on_the_topic_and_text_for_its_user(
    cluster: Cluster, tmp_path: Path
) -> None:
    topology = cluster.topology
    got: list[Delivery] = []
    ana = ChatClient(
        topology.broker, topology.proxy_sub, got.append, Node("client", "t-ana"), keys_home=tmp_path
    )
    eavesdropper = zmq.Context.instance().socket(zmq.SUB)
    eavesdropper.setsockopt(zmq.LINGER, 0)
    eavesdropper.connect(topology.proxy_sub)
    eavesdropper.setsockopt(zmq.SUBSCRIBE, b"")  # everything: the user's topic, replication
    bob = RawClient(topology.broker)
    heard: list[tuple[bytes, bytes]] = []
    try:
        assert ana.login("ana", "pw")["status"] == "sucesso"
        wait_for(lambda: every_replica_holds_the_account(cluster), what="account replicated")

        def delivered() -> bool:
            text = f"secret {len(heard)}"
            assert data(bob, "message", src="bob", dst="ana", message=text)["status"] == "OK"
            while eavesdropper.poll(100):
                heard.append(tuple(eavesdropper.recv_multipart()))  # type: ignore[arg-type]
            return any(d.message == text for d in got) and any(t == b"ana" for t, _ in heard)

        wait_for(delivered, interval=0.1, what="a message seen by ana's client and on the topic")
        sealed = [msgpack.unpackb(body) for topic, body in heard if topic == b"ana"]
        assert all(m["message"] == protocol.SEALED_TEXT and m["sealed"] for m in sealed)
        assert not any(b"secret" in body for _, body in heard)  # nor on `replication`
        assert all(d.message.startswith("secret") for d in got)

        refused = data(bob, "history", user="ana", peer="bob")
        assert refused["status"] == "erro"
        history = ana.call("history", user="ana", peer="bob")
        assert history["status"] == "OK"
        texts = [m["message"] for m in history["messages"]]
        assert texts[:1] == ["secret 0"] and all(t.startswith("secret") for t in texts)
    finally:
        bob.close()
        eavesdropper.close(0)
        ana.close()
