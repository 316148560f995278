"""ClockSyncActor: `clock` and `adjust` services, Berkeley rounds on the coordinator, and three
skewed in-process nodes brought within 50 ms of each other by one round."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from structlog.testing import capture_logs

from actors.base import Node
from actors.clock_sync import ClockSyncActor
from actors.messages import Membership, MessageHandled
from actors.routes import Routes
from config.clocks import AdjustedClock
from tests.fakes import (
    FakeNetwork,
    FakeTransport,
    NetNode,
    SentRequest,
    barrier,
    make_inbound,
)
from transport.protocol import CoordinatorAnnounced, Peer, parse_peer_request

A, B = Peer("a", 1, "tcp://a:5560"), Peer("b", 2, "tcp://b:5560")


class ClockNode:
    def __init__(self, name: str = "c", skew: float = 0.0) -> None:
        self.node = Node("server", name, clock=AdjustedClock(skew))
        self.transport = FakeTransport()
        self.monotonic = 100.0  # the actor's `now`, moved by hand
        routes = Routes()
        self.ref = ClockSyncActor.start(
            self.node, self.transport, routes, now=lambda: self.monotonic
        )
        routes.add("clock", self.ref)

    def tell(self, *messages: Any) -> None:
        for message in messages:
            self.ref.tell(message)
        barrier(self.ref)

    def lead(self, *peers: Peer) -> None:
        self.tell(Membership(3, peers), CoordinatorAnnounced(self.node.name))

    def serve(self, service: str, **data: Any) -> dict[str, Any]:
        inbound = make_inbound(service, data, key="peer")
        self.tell(parse_peer_request(inbound))
        return self.transport.reply_to(inbound).data

    def answer(self, call: SentRequest, skew: float) -> None:
        """A peer whose clock reads `skew` seconds ahead of true time answers now."""
        call.complete({"time": time.time() + skew}, rtt=0.0)
        barrier(self.ref)

    def adjustments(self) -> dict[str, float]:
        return {c.endpoint: c.data["delta"] for c in self.transport.sent("adjust")}


# ---- serving ------------------------------------------------------------------------------


def test_clock_answers_the_adjusted_time() -> None:
    node = ClockNode(skew=5.0)
    node.node.clock.adjust(-1.0)
    answered = node.serve("clock")["time"]
    assert answered == pytest.approx(time.time() + 4.0, abs=0.05)


def test_adjust_adds_to_the_offset() -> None:
    node = ClockNode()
    assert node.serve("adjust", delta=1.5) == {"status": "OK"}
    assert node.serve("adjust", delta=-0.25) == {"status": "OK"}
    assert node.node.clock.offset == pytest.approx(1.25)


def test_corrections_that_add_up_past_ten_minutes_are_refused() -> None:
    node = ClockNode()
    assert node.serve("adjust", delta=500.0) == {"status": "OK"}
    refused = node.serve("adjust", delta=500.0)
    assert refused["status"] == "erro" and "600" in refused["description"]
    assert node.node.clock.offset == pytest.approx(500.0)
    assert node.serve("clock")["time"] == pytest.approx(time.time() + 500.0, abs=0.05)


@pytest.mark.parametrize("delta", [math.nan, math.inf, -math.inf, 1e12, 600.5])
def test_the_clock_itself_refuses_an_absurd_correction(delta: float) -> None:
    clock = AdjustedClock()
    assert clock.adjust(delta) is False
    assert clock.offset == 0.0
    assert clock.adjust(-600.0) is True


# ---- rounds -------------------------------------------------------------------------------


def test_a_new_coordinator_starts_a_round() -> None:
    node = ClockNode()
    node.lead(A, B)
    calls = node.transport.sent("clock")
    assert sorted(c.endpoint for c in calls) == [A.address, B.address]
    assert all(c.call.retries == 0 and c.call.lane == "clock" for c in calls)


def test_followers_never_run_rounds() -> None:
    node = ClockNode()
    node.tell(Membership(1, (A, B)), CoordinatorAnnounced("b"))
    node.tell(*[MessageHandled()] * 25)
    assert node.transport.requests == []


def test_round_moves_every_clock_to_the_agreed_time() -> None:
    node = ClockNode()
    node.lead(A, B)
    call_a, call_b = node.transport.sent("clock")
    node.answer(call_a, skew=+2.0)
    assert node.transport.sent("adjust") == []  # waits for every peer
    node.answer(call_b, skew=-2.0)
    # offsets (+2, -2, 0): the median 0 is the only agreeing clock; everyone moves to it
    assert node.adjustments() == pytest.approx({A.address: -2.0, B.address: 2.0}, abs=0.05)
    assert node.node.clock.offset == pytest.approx(0.0, abs=0.05)
    assert node.ref.proxy().stats().get(timeout=5)["rounds"] == 1


def test_the_coordinator_adjusts_itself_towards_agreeing_peers() -> None:
    node = ClockNode(skew=-0.3)
    node.lead(A, B)
    call_a, call_b = node.transport.sent("clock")
    node.answer(call_a, skew=+0.3)
    node.answer(call_b, skew=+0.0)
    # offsets seen by the coordinator: a +0.6, b +0.3, itself 0 -> target +0.3
    assert node.node.clock.offset == pytest.approx(0.3, abs=0.05)
    assert node.adjustments() == pytest.approx({A.address: -0.3, B.address: 0.0}, abs=0.05)


def test_a_wild_clock_does_not_pull_the_others() -> None:
    node = ClockNode()
    node.lead(A, B, Peer("w", 4, "tcp://w:5560"))
    a, b, w = node.transport.sent("clock")
    node.answer(a, 0.1)
    node.answer(b, -0.1)
    with capture_logs() as logs:
        node.answer(w, 3600.0)
    assert node.node.clock.offset == pytest.approx(0.0, abs=0.05)
    # an hour off is beyond what a correction may do: that host's clock needs fixing
    assert "tcp://w:5560" not in node.adjustments()
    assert set(node.adjustments()) == {A.address, B.address}
    [warning] = [e for e in logs if e["event"] == "clock_correction_out_of_range"]
    assert warning["server"] == "w" and warning["delta"] == pytest.approx(-3600.0, abs=0.05)


def test_a_peer_that_does_not_answer_is_left_out_of_the_round() -> None:
    node = ClockNode()
    node.lead(A, B)
    call_a, call_b = node.transport.sent("clock")
    call_a.fail()
    node.answer(call_b, skew=0.5)
    assert list(node.adjustments()) == [B.address]


def test_an_unreadable_time_is_left_out_of_the_round() -> None:
    node = ClockNode()
    node.lead(A)
    node.transport.sent("clock")[0].complete({"time": "noon"})
    barrier(node.ref)
    assert node.adjustments() == {}
    assert node.ref.proxy().stats().get(timeout=5)["rounds"] == 1


def test_every_ten_handled_messages_start_a_round_but_never_two_at_once() -> None:
    node = ClockNode()
    node.lead(A)
    node.monotonic += 1.0
    node.tell(*[MessageHandled()] * 10)
    assert len(node.transport.sent("clock")) == 1  # the first round is still open
    node.answer(node.transport.sent("clock")[0], 0.0)
    node.monotonic += 1.0
    node.tell(*[MessageHandled()] * 9)
    assert len(node.transport.sent("clock")) == 1
    node.tell(MessageHandled())
    assert len(node.transport.sent("clock")) == 2


def test_message_triggered_rounds_are_at_least_the_minimum_interval_apart() -> None:
    node = ClockNode()
    node.lead(A)  # the election starts a round
    node.answer(node.transport.sent("clock")[0], 0.0)
    node.monotonic += node.node.timing.clock_sync_min_interval / 2
    node.tell(*[MessageHandled()] * 10)
    assert len(node.transport.sent("clock")) == 1
    node.monotonic += node.node.timing.clock_sync_min_interval
    node.tell(*[MessageHandled()] * 10)
    assert len(node.transport.sent("clock")) == 2


# ---- three skewed nodes over an in-process network ----------------------------------------


def clock_node(net: FakeNetwork, name: str, skew: float) -> NetNode:
    place = net.node(name, clock=AdjustedClock(skew))
    node = Node("server", name, place.lamport, place.clock)
    ref = place.add("clock", ClockSyncActor.start(node, place.transport, place.routes))
    place.on_request = lambda inbound: ref.tell(parse_peer_request(inbound))
    return place


def spread(nodes: list[NetNode]) -> float:
    readings = [n.clock.now() for n in nodes]
    return max(readings) - min(readings)


@pytest.mark.parametrize("coordinator", ["minus", "zero", "plus"])
def test_one_round_brings_three_skewed_nodes_within_fifty_ms(coordinator: str) -> None:
    net = FakeNetwork()
    skews = {"minus": -2.0, "zero": 0.0, "plus": 2.0}
    nodes = [clock_node(net, name, skew) for name, skew in skews.items()]
    ranks = {"minus": 1, "zero": 2, "plus": 3}
    for node in nodes:
        peers = tuple(Peer(n.name, ranks[n.name], n.endpoint) for n in nodes if n is not node)
        node.routes.tell("clock", Membership(ranks[node.name], peers))
        node.routes.tell("clock", CoordinatorAnnounced(coordinator))
    assert spread(nodes) > 3.9
    net.settle()
    assert spread(nodes) < 0.05
    # later rounds keep them together
    lead = next(n for n in nodes if n.name == coordinator)
    for _ in range(10):
        lead.routes.tell("clock", MessageHandled())
    net.settle()
    assert spread(nodes) < 0.05
    assert all(abs(n.clock.now() - time.time()) < 2.1 for n in nodes)
