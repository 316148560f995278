"""MembershipActor: rank, heartbeats and list from the reference, views for the other actors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from structlog.testing import capture_logs

from actors.base import Node
from actors.membership import LISTENERS, MembershipActor
from actors.messages import HeartbeatDue, Membership
from actors.routes import Routes
from tests.fakes import FakeTransport, Mailbox, SentRequest, barrier
from transport.protocol import Peer

REFERENCE = "tcp://reference:5559"
ME = "tcp://10.0.0.1:5560"
LIST = [
    {"name": "a", "rank": 1, "address": ME},
    {"name": "b", "rank": 2, "address": "tcp://b:1"},
    {"name": "c", "rank": 3},
]


class Members:
    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.listeners = {name: Mailbox() for name in LISTENERS}
        self.first_view = threading.Event()
        routes = Routes()
        for name, box in self.listeners.items():
            routes.add(name, box)
        self.ref = MembershipActor.start(
            Node("server", "a"),
            self.transport,
            routes,
            REFERENCE,
            ME,
            self.first_view,
            resolve=lambda endpoint: endpoint,
        )
        routes.add("membership", self.ref)

    def tick(self) -> None:
        self.ref.tell(HeartbeatDue())
        barrier(self.ref)

    def pending(self) -> SentRequest:
        [call] = [r for r in self.transport.requests if not r.answered]
        return call

    def answer(self, data: dict[str, Any] | None = None, ok: bool = True) -> SentRequest:
        call = self.pending()
        if ok:
            call.complete(data)
        else:
            call.fail()
        barrier(self.ref)
        return call

    def views(self, listener: str = "election") -> list[Membership]:
        return self.listeners[listener].of(Membership)

    def register(self, rank: int = 1, servers: list[dict[str, Any]] = LIST) -> None:
        self.tick()
        self.answer({"rank": rank})
        self.answer({"list": servers})


@pytest.fixture
def members() -> Members:
    return Members()


def test_first_tick_asks_for_a_rank_with_our_address(members: Members) -> None:
    members.tick()
    call = members.pending()
    assert (call.endpoint, call.service, call.data) == (
        REFERENCE,
        "rank",
        {"user": "a", "address": ME},
    )


def test_rank_then_list_gives_every_listener_the_view(members: Members) -> None:
    members.register(rank=1)
    expected = Membership(1, (Peer("b", 2, "tcp://b:1"), Peer("c", 3, "tcp://c:5560")))
    for name in LISTENERS:
        assert members.views(name) == [expected]
    assert members.first_view.is_set()


def test_registered_servers_heartbeat_then_refresh_the_list(members: Members) -> None:
    members.register()
    members.tick()
    assert members.answer({}).service == "heartbeat"  # a reply without status is fine
    assert members.pending().service == "list"
    assert members.transport.sent("heartbeat")[0].data == {"user": "a"}


def test_one_conversation_with_the_reference_at_a_time(members: Members) -> None:
    members.tick()
    members.tick()
    members.tick()
    assert len(members.transport.requests) == 1


def test_reference_failure_means_registering_again(members: Members) -> None:
    members.register(rank=1)
    members.tick()
    members.answer(ok=False)  # heartbeat lost: reference down
    members.tick()
    call = members.answer({"rank": 1})
    assert call.service == "rank"
    assert members.ref.proxy().stats().get(timeout=5)["reference_up"] is True
    members.answer({"list": LIST})
    assert len(members.views()) == 2


def test_the_last_view_is_kept_while_the_reference_is_down(members: Members) -> None:
    members.register()
    members.tick()
    members.answer(ok=False)
    assert len(members.views()) == 1
    stats = members.ref.proxy().stats().get(timeout=5)
    assert stats["reference_up"] is False
    assert stats["peers"] == ["b", "c"]


def test_a_reference_that_forgot_us_gets_a_new_registration(members: Members) -> None:
    members.register(rank=1)
    members.tick()
    members.answer({"status": "erro", "description": "unknown server"})
    members.answer({"list": LIST})
    members.tick()
    assert members.pending().service == "rank"


def test_a_changed_list_is_passed_on(members: Members) -> None:
    members.register(rank=1)
    members.tick()
    members.answer({})
    members.answer({"list": LIST[:2]})
    assert members.views()[-1] == Membership(1, (Peer("b", 2, "tcp://b:1"),))


def test_alone_the_first_view_is_not_yet_set(members: Members) -> None:
    members.register(rank=1, servers=[{"name": "a", "rank": 1}])
    assert members.views() == [Membership(1, ())]
    assert not members.first_view.is_set()


def test_an_unusable_rank_leaves_us_unregistered(members: Members) -> None:
    members.tick()
    members.answer({"rank": "first"})
    members.answer({"list": LIST})
    assert members.views()[0].rank is None
    members.tick()
    assert members.pending().service == "rank"


def test_a_rank_of_zero_is_accepted(members: Members) -> None:
    members.register(rank=0)
    assert members.views()[0].rank == 0
    members.tick()
    assert members.pending().service == "heartbeat"


def test_a_peer_whose_name_is_not_resolved_yet_is_left_out_of_the_view() -> None:
    transport, routes, listeners = FakeTransport(), Routes(), {n: Mailbox() for n in LISTENERS}
    for name, box in listeners.items():
        routes.add(name, box)
    known = {ME: ME, "tcp://b:1": "tcp://10.0.0.2:1"}
    ref = MembershipActor.start(
        Node("server", "a"), transport, routes, REFERENCE, ME, resolve=known.get
    )
    routes.add("membership", ref)
    ref.tell(HeartbeatDue())
    barrier(ref)
    transport.requests[-1].complete({"rank": 1})
    barrier(ref)
    with capture_logs() as logs:
        transport.requests[-1].complete({"list": LIST})
        barrier(ref)
    [view] = listeners["election"].of(Membership)
    assert view.peers == (Peer("b", 2, "tcp://10.0.0.2:1"),)  # c (tcp://c:5560) not yet
    assert [e["peer"] for e in logs if e["event"] == "peer_unresolved"] == ["c"]
