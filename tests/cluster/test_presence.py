"""Presence holds across replicas: a request that reached one replica makes its user online on
every replica (each answers for itself through its peer port), and `who` through the broker
says so whichever replica answers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from roles.cluster import Cluster
from tests.support import RawClient, start_cluster, wait_for
from transport.protocol import PRESENCE_WINDOW

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("presence"), servers=3, bots=0)
    try:
        yield running
    finally:
        running.stop()


def table_of(cluster: Cluster, index: int) -> dict[str, float]:
    """Server i's presence table, asked on its server-to-server port with an empty table."""
    peer = RawClient(cluster.topology.endpoint(5 + index), timeout=2.0)
    try:
        return peer.request("presence", online={})["data"]["online"]
    finally:
        peer.close()


def test_one_request_makes_its_user_online_on_every_replica(cluster: Cluster) -> None:
    user = f"present{os.getpid()}"
    client = RawClient(cluster.topology.broker)
    try:
        assert client.request("login", user=user)["data"]["status"] == "sucesso"
        servers = range(cluster.topology.servers)
        wait_for(
            lambda: all(user in table_of(cluster, i) for i in servers),
            timeout=10,
            what=f"{user} online on every replica",
        )
        assert all(0 <= table_of(cluster, i)[user] <= PRESENCE_WINDOW for i in servers)
        # `who` without a user names nobody new; the broker spreads these over the replicas
        for _ in range(2 * cluster.topology.servers):
            reply = client.request("who")["data"]
            assert reply["status"] == "OK" and user in reply["online"]
        users = client.request("users")["data"]
        assert user in users["users"] and user in users["online"]
    finally:
        client.close()
