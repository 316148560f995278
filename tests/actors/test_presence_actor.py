"""The presence actor against a fake transport: fed by requests, answering `who`/`users`
with the online list, and exchanging its table with the peers membership names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actors.base import Node
from actors.messages import Membership
from actors.presence import AnswerWithOnline, PresenceActor, PresenceDue, Seen
from tests.fakes import FakeTransport, barrier, make_inbound
from transport import protocol
from transport.protocol import Peer, PresenceRequest


class Clock:
    def __init__(self) -> None:
        self.t = 500.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def place() -> Iterator[tuple[FakeTransport, Clock, object]]:
    transport, clock = FakeTransport(), Clock()
    ref = PresenceActor.start(Node("server", "s1"), transport, clock)
    yield transport, clock, ref
    ref.stop()


def tell(ref: object, message: object) -> None:
    ref.tell(message)  # type: ignore[attr-defined]
    barrier(ref)  # type: ignore[arg-type]


def test_who_lists_the_users_seen_in_the_last_30_s(place) -> None:  # type: ignore[no-untyped-def]
    transport, clock, ref = place
    tell(ref, Seen(("bob",)))
    clock.t += 20
    tell(ref, Seen(("ana",)))
    who = make_inbound("who", {})
    tell(ref, AnswerWithOnline(who, protocol.ok()))
    assert transport.reply_to(who).data == {"status": "OK", "online": ["ana", "bob"]}
    clock.t += 15  # bob's last request is 35 s old now
    users = make_inbound("users", {})
    tell(ref, AnswerWithOnline(users, protocol.users_reply(["ana", "bob", "carl"])))
    assert transport.reply_to(users).data == {"users": ["ana", "bob", "carl"], "online": ["ana"]}


def test_tables_travel_to_peers_and_back(place) -> None:  # type: ignore[no-untyped-def]
    transport, clock, ref = place
    tell(ref, Seen(("ana",)))
    tell(ref, PresenceDue())
    assert transport.sent("presence") == []  # no peers known yet
    peers = (Peer("s2", 2, "tcp://10.0.0.2:5560"), Peer("s3", 3, "tcp://10.0.0.3:5560"))
    tell(ref, Membership(1, peers))
    clock.t += 2
    tell(ref, PresenceDue())
    sent = transport.sent("presence")
    assert sorted(r.endpoint for r in sent) == ["tcp://10.0.0.2:5560", "tcp://10.0.0.3:5560"]
    assert sent[0].data == {"online": {"ana": 2.0}}
    sent[0].complete(protocol.presence_reply({"zoe": 1.0}))
    sent[1].fail()
    barrier(ref)  # type: ignore[arg-type]
    who = make_inbound("who", {})
    tell(ref, AnswerWithOnline(who, protocol.ok()))
    assert transport.reply_to(who).data["online"] == ["ana", "zoe"]


def test_a_peer_request_is_merged_and_answered_with_our_table(place) -> None:  # type: ignore[no-untyped-def]
    transport, _clock, ref = place
    tell(ref, Seen(("ana", "carl")))
    inbound = make_inbound("presence", {"online": {"bob": 3.0}}, key="peers")
    request = protocol.parse_peer_request(inbound)
    assert isinstance(request, PresenceRequest)
    tell(ref, request)
    assert transport.reply_to(inbound).data == {
        "status": "OK",
        "online": {"ana": 0.0, "carl": 0.0, "bob": 3.0},
    }
