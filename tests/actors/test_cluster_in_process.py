"""Three complete server actor graphs and a reference on a FakeNetwork (no sockets):
elections under concurrency and partitions, and Lamport causality of replicated events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.base import Node
from actors.event_store import EventStore
from actors.messages import ClientRequest, ExpiryDue, PublishedEvents
from actors.registry import RegistryActor
from config.timing import DEFAULT_TIMING
from roles.server_graph import SUBSCRIBED_TOPICS, start_server_actors
from tests.fakes import FakeNetwork, Mailbox, NetNode, Reply, history_order, stop_all_actors
from transport import protocol
from transport.port import Publication
from transport.protocol import CoordinatorAnnounced, Event

REFERENCE = "tcp://reference:5559"
TIMING = DEFAULT_TIMING
NAMES = ("a", "b", "c")


def start_reference(net: FakeNetwork) -> NetNode:
    place = net.node("reference", endpoint=REFERENCE)
    node = Node("reference", "reference", place.lamport, place.clock, TIMING)
    place.add("registry", RegistryActor.start(node, place.transport, None, now=net.now))
    place.on_request = lambda inbound: place.routes.tell("registry", ClientRequest(inbound))
    net.scheduler.every(TIMING.heartbeat_interval, place.routes.sender("registry", ExpiryDue()))
    return place


def start_server(net: FakeNetwork, name: str, data_dir: Path) -> NetNode:
    """roles/server.py's actor graph (the same wiring), on the fake network and virtual time."""
    place = net.node(name)
    node = Node("server", name, place.lamport, place.clock, TIMING)
    graph = start_server_actors(
        node,
        place.transport,
        place.routes,
        data_dir / f"{name}.sqlite3",
        REFERENCE,
        place.endpoint,
        on_started=place.add,
        now=net.now,
        resolve=lambda endpoint: endpoint,  # the fake network's endpoints are names
    )
    place.on_request = graph.on_peer_request
    place.subscribe(*SUBSCRIBED_TOPICS)
    place.on_publication = lambda pub: graph.on_publications([pub])
    place.graph = graph
    graph.start_membership(net.scheduler)
    graph.start_timers(net.scheduler)
    return place


def test_publications_are_routed_liberally_and_foreign_shapes_ignored(tmp_path: Path) -> None:
    net = FakeNetwork()
    graph = start_server(net, "a", tmp_path).graph
    election, replication = Mailbox(), Mailbox()
    graph.routes.add("election", election)
    graph.routes.add("replication", replication)
    event = Event("b", 1, 4, "login", user="bob", timestamp=1.0)
    for topic, message in [
        ("servers", {"service": "election", "data": {"coordinator": "x"}}),
        ("servers", {"service": "election", "coordinator": "y"}),  # top level
        ("servers", {"service": "hello", "data": {"coordinator": "z"}}),
        ("servers", {"service": "election", "data": {"coordinator": 5}}),
        protocol.replication_publication(event, 2.0),
        (
            "replication",
            {
                "service": "replication",
                "data": {
                    "operation": "login",
                    "operationData": {"user": "theirs"},
                    "serverName": "q",
                },
            },
        ),
        ("replication", {"service": "replication", "data": "junk"}),
        ("elsewhere", {"service": "election", "data": {"coordinator": "w"}}),
    ]:
        graph.on_publications([Publication("sub", topic, message)])
    assert election.messages == [CoordinatorAnnounced("x"), CoordinatorAnnounced("y")]
    assert replication.messages == [PublishedEvents((event,))]


class Cluster:
    def __init__(self, data_dir: Path) -> None:
        self.net = FakeNetwork()
        self.data_dir = data_dir
        self.reference = start_reference(self.net)
        # All three start at the same instant: their registrations and elections interleave.
        self.servers = {name: start_server(self.net, name, data_dir) for name in NAMES}
        self.client_clock = 0
        self.elapsed = 0.0  # virtual seconds the last request took

    def coordinators(self, names: tuple[str, ...] = NAMES) -> dict[str, str | None]:
        return {
            n: self.servers[n].actors["election"].proxy().coordinator.get(timeout=5) for n in names
        }

    def agree_on(self, coordinator: str, names: tuple[str, ...] = NAMES) -> bool:
        return set(self.coordinators(names).values()) == {coordinator}

    def peers_of(self, name: str) -> list[str]:
        return self.servers[name].actors["membership"].proxy().stats().get(timeout=5)["peers"]

    def request(self, server: str, service: str, **data: Any) -> tuple[int, Reply]:
        """A client request sent with the client's Lamport clock; returns (sent clock, reply)."""
        place = self.servers[server]
        self.client_clock += 1
        sent = self.client_clock
        inbound = place.inbound(service, data, clock=sent)
        place.graph.on_client_requests([inbound])
        self.elapsed = self.net.run_until(lambda: place.transport.replied(inbound), within=3.0)
        reply = place.transport.reply_to(inbound)
        assert reply.clock is not None
        self.client_clock = max(self.client_clock, reply.clock)
        return sent, reply

    def stored(self, name: str) -> list[Event]:
        store = EventStore(self.data_dir / f"{name}.sqlite3")
        try:
            return sorted(store.since({}, 10_000)[0], key=history_order)
        finally:
            store.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path)


def test_concurrent_start_elects_the_highest_rank_everywhere(cluster: Cluster) -> None:
    cluster.net.settle()
    ranks = cluster.reference.actors["registry"].proxy().book.get(timeout=5).ranks
    assert sorted(ranks) == list(NAMES) and len(set(ranks.values())) == 3
    highest = max(ranks, key=ranks.__getitem__)
    cluster.net.run_until(lambda: cluster.agree_on(highest), within=10.0)
    assert cluster.peers_of("a") == ["b", "c"]
    cluster.net.advance(3.0)  # and it stays that way
    assert cluster.agree_on(highest)


def test_partitions_elect_per_side_and_heal_to_one_coordinator(cluster: Cluster) -> None:
    net = cluster.net
    net.run_until(lambda: cluster.agree_on("c"), within=10.0)

    # the coordinator is cut off from everyone: the others elect b, c keeps itself
    net.partition({"c"}, {"a", "b", "reference"})
    failover = net.run_until(lambda: cluster.agree_on("b", ("a", "b")), within=10.0)
    assert failover <= TIMING.failover_bound
    assert cluster.coordinators(("c",)) == {"c": "c"}
    net.run_until(lambda: cluster.peers_of("a") == ["b"], within=2 * TIMING.liveness_timeout)

    net.heal()
    net.run_until(lambda: cluster.agree_on("c"), within=15.0)

    # a is cut off: alone it elects itself; the majority keeps c
    net.partition({"a"}, {"b", "c", "reference"})
    net.run_until(lambda: cluster.agree_on("a", ("a",)), within=10.0)
    assert cluster.agree_on("c", ("b", "c"))

    net.heal()
    net.run_until(lambda: cluster.agree_on("c"), within=15.0)
    net.advance(5.0)
    assert cluster.agree_on("c")


def test_replies_and_replicated_events_respect_causality(cluster: Cluster) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)

    steps = [
        ("a", "login", {"user": "ana"}),
        ("b", "login", {"user": "bob"}),
        ("c", "channel", {"channel": "general", "user": "ana"}),
        ("a", "publish", {"user": "ana", "channel": "general", "message": "hello"}),
        ("b", "publish", {"user": "bob", "channel": "general", "message": "hi ana"}),
        ("c", "message", {"src": "ana", "dst": "bob", "message": "psst"}),
    ]
    for server, service, data in steps:
        sent, reply = cluster.request(server, service, **data)
        assert reply.data["status"] in ("OK", "sucesso"), reply.data
        assert reply.clock > sent  # a reply is after its request

    # each write was acknowledged only once on every replica: all hold the same log
    stop_all_actors()
    logs = {name: cluster.stored(name) for name in NAMES}
    assert logs["a"] == logs["b"] == logs["c"]
    chain = logs["a"]
    assert [(e.origin, e.op) for e in chain] == [
        ("a", "login"),
        ("b", "login"),
        ("c", "channel"),
        ("a", "publish"),
        ("b", "publish"),
        ("c", "message"),
    ]
    # every event was created after its causal predecessor had been applied on its replica
    clocks = [e.clock for e in chain]
    assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks)


def test_history_is_the_same_on_every_replica(cluster: Cluster) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)
    cluster.request("a", "channel", channel="general")
    for i, server in enumerate("abcabc"):
        cluster.request(server, "publish", user=f"u{i}", channel="general", message=f"m{i}")
    histories = {}
    for name in NAMES:
        _, reply = cluster.request(name, "history", channel="general")
        histories[name] = [(m["message"], m["clock"]) for m in reply.data["messages"]]
    assert histories["a"] == histories["b"] == histories["c"]
    assert [m for m, _ in histories["a"]] == [f"m{i}" for i in range(6)]


def test_a_write_made_during_a_partition_reaches_the_cut_replica_after_healing(
    cluster: Cluster,
) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)
    cluster.request("a", "channel", channel="general")
    net.partition({"c"}, {"a", "b", "reference"})
    _, reply = cluster.request("a", "publish", user="ana", channel="general", message="while cut")
    assert reply.data == {"status": "OK"}  # c lagging: acknowledged with b
    net.heal()
    net.run_until(
        lambda: any(
            m["message"] == "while cut"
            for m in cluster.request("c", "history", channel="general")[1].data["messages"]
        ),
        within=10.0,
    )


def test_a_lost_push_costs_one_ack_timeout_and_the_replica_still_catches_up(
    cluster: Cluster,
) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)
    cluster.request("a", "channel", channel="general")
    assert cluster.elapsed < TIMING.replication_ack_timeout
    # the next messages from a to b, once the post below is durable on a: its publication on
    # `replication` (which b ignores: a pushes to it) and its push
    net.drop("a", "b", count=2)
    _, reply = cluster.request("a", "publish", user="ana", channel="general", message="lost?")
    assert reply.data == {"status": "OK"}
    assert cluster.elapsed >= TIMING.replication_ack_timeout  # waited for b, then went on

    def b_has_it() -> bool:
        _, history = cluster.request("b", "history", channel="general")
        return [m["message"] for m in history.data["messages"]] == ["lost?"]

    net.run_until(b_has_it, within=5.0)  # the push is retried
    replication = cluster.servers["a"].actors["replication"]
    net.run_until(lambda: replication.proxy().stats().get(timeout=5)["lagging"] == [], within=10.0)


def test_a_slow_link_delays_the_acknowledgement_by_its_round_trip(cluster: Cluster) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)
    cluster.request("a", "login", user="ana")
    fast = cluster.elapsed
    net.delay("a", "c", 0.3)
    net.delay("c", "a", 0.3)
    cluster.request("a", "login", user="bob")
    assert fast < 0.3
    assert 0.6 <= cluster.elapsed < TIMING.replication_ack_timeout


def test_a_restarted_server_keeps_its_data_and_catches_up(cluster: Cluster) -> None:
    net = cluster.net
    net.run_until(lambda: all(len(cluster.peers_of(n)) == 2 for n in NAMES), within=10.0)
    cluster.request("c", "channel", channel="general")
    cluster.request("c", "publish", user="cy", channel="general", message="before")
    for ref in cluster.servers["c"].actors.values():
        ref.stop()
    net.partition({"c"}, {"a", "b", "reference"})
    for i, server in enumerate("abab"):
        cluster.request(server, "publish", user="ana", channel="general", message=f"m{i}")
    net.heal()
    cluster.servers["c"] = start_server(net, "c", cluster.data_dir)

    def c_has_everything() -> bool:
        _, reply = cluster.request("c", "history", channel="general")
        return [m["message"] for m in reply.data["messages"]] == ["before", "m0", "m1", "m2", "m3"]

    net.run_until(c_has_everything, within=10.0)
    _, reply = cluster.request("c", "channel", channel="general")  # still known after restart
    assert reply.data["status"] == "erro"
