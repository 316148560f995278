"""ElectionActor with a FakeTransport and a hand-driven clock."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from actors.base import Node
from actors.election import ElectionActor
from actors.messages import CoordinatorCheckDue, ElectionTick, Membership
from actors.routes import Routes
from actors.scheduler import ManualScheduler
from tests.fakes import FakeTransport, Mailbox, barrier, make_inbound
from transport.protocol import CoordinatorAnnounced, Peer, parse_peer_request

A, B, C = Peer("a", 1, "tcp://a:5560"), Peer("b", 2, "tcp://b:5560"), Peer("c", 3, "tcp://c:5560")


class Election:
    def __init__(self, me: Peer, *peers: Peer, join: bool = True) -> None:
        self.node = Node("server", me.name)
        self.transport = FakeTransport()
        self.clock = Mailbox()
        self.time = ManualScheduler()
        routes = Routes()
        routes.add("clock", self.clock)
        self.ref = ElectionActor.start(self.node, self.transport, routes, now=self.time.now)
        routes.add("election", self.ref)
        if join:
            self.tell(Membership(me.rank, peers))

    def tell(self, *messages: Any) -> None:
        for message in messages:
            self.ref.tell(message)
        barrier(self.ref)

    @property
    def coordinator(self) -> str | None:
        return self.ref.proxy().coordinator.get(timeout=5)

    def announced(self) -> list[str]:
        return [p.message["data"]["coordinator"] for p in self.transport.published_on("servers")]

    def answer_elections(self, ok: bool) -> None:
        for call in self.transport.sent("election", pending_only=True):
            if ok:
                call.complete({"election": "OK"})
            else:
                call.fail()
        barrier(self.ref)


def test_the_highest_server_announces_itself() -> None:
    c = Election(C, A, B)
    assert c.transport.sent("election") == []
    assert c.announced() == ["c"]
    [pub] = c.transport.published_on("servers")
    assert (pub.key, pub.message["service"]) == ("pub", "election")
    assert isinstance(pub.message["data"]["timestamp"], float)
    assert c.clock.messages == [CoordinatorAnnounced("c")]
    assert c.coordinator == "c"


def test_a_lower_server_asks_every_higher_one() -> None:
    a = Election(A, B, C)
    calls = a.transport.sent("election")
    assert sorted(call.endpoint for call in calls) == [B.address, C.address]
    assert all(sent.call.timeout == a.node.timing.election_answer_timeout for sent in calls)
    assert all(sent.call.retries == 0 for sent in calls)
    assert a.announced() == []


def test_after_an_ok_the_announce_decides() -> None:
    a = Election(A, B, C)
    a.answer_elections(ok=True)
    a.time.advance(a.node.timing.election_answer_timeout + 0.1)
    a.tell(ElectionTick())
    assert a.announced() == []  # an OK forbids claiming victory
    a.tell(CoordinatorAnnounced("c"))
    assert a.coordinator == "c"
    assert a.clock.messages == [CoordinatorAnnounced("c")]


def test_no_answer_in_time_means_victory() -> None:
    a = Election(A, B, C)
    a.answer_elections(ok=False)
    a.tell(ElectionTick())
    assert a.announced() == []  # not before the deadline
    a.time.advance(a.node.timing.election_answer_timeout)
    a.tell(ElectionTick())
    assert a.announced() == ["a"]
    assert a.coordinator == "a"


def test_a_reply_that_is_not_ok_is_no_answer() -> None:
    a = Election(A, B)
    a.transport.sent("election")[0].complete({"election": "maybe"})
    a.time.advance(a.node.timing.election_answer_timeout)
    a.tell(ElectionTick())
    assert a.coordinator == "a"


def test_ok_then_silence_restarts_the_election() -> None:
    a = Election(A, B, C)
    a.answer_elections(ok=True)
    a.time.advance(a.node.timing.announce_timeout)
    a.tell(ElectionTick())
    assert len(a.transport.sent("election", pending_only=True)) == 2


def test_an_election_request_is_answered_ok_and_taken_over() -> None:
    b = Election(B, A, C)
    b.tell(CoordinatorAnnounced("c"))
    asked_before = len(b.transport.sent("election"))
    inbound = make_inbound("election", key="peer")
    b.tell(parse_peer_request(inbound))
    assert b.transport.reply_to(inbound).data == {"election": "OK"}
    assert [c.endpoint for c in b.transport.sent("election")[asked_before:]] == [C.address]


def test_the_highest_server_answers_an_election_by_announcing() -> None:
    c = Election(C, A, B)
    inbound = make_inbound("election", key="peer")
    c.tell(parse_peer_request(inbound))
    assert c.transport.reply_to(inbound).data == {"election": "OK"}
    assert c.announced() == ["c", "c"]


def test_a_lower_server_claiming_power_is_bullied() -> None:
    c = Election(C, A, B)
    c.tell(CoordinatorAnnounced("a"))
    assert c.announced() == ["c", "c"]
    assert c.coordinator == "c"


def test_followers_ping_the_coordinator_one_ping_at_a_time() -> None:
    a = Election(A, B, C)
    a.tell(CoordinatorAnnounced("c"))
    a.tell(CoordinatorCheckDue(), CoordinatorCheckDue())
    [ping] = a.transport.sent("clock")
    assert ping.endpoint == C.address and ping.call.lane == "ping"
    ping.complete({"time": 1.0})
    barrier(a.ref)
    a.tell(CoordinatorCheckDue())
    assert len(a.transport.sent("clock")) == 2
    assert a.coordinator == "c"


def test_an_unreachable_coordinator_starts_an_election() -> None:
    a = Election(A, B, C)
    a.answer_elections(ok=True)
    a.tell(CoordinatorAnnounced("c"))
    a.tell(CoordinatorCheckDue())
    a.transport.sent("clock")[0].fail()
    barrier(a.ref)
    assert a.coordinator is None
    assert sorted(c.endpoint for c in a.transport.sent("election", pending_only=True)) == [
        B.address,
        C.address,
    ]


def test_the_coordinator_reannounces_every_few_checks() -> None:
    c = Election(C, A, B)
    c.tell(*[CoordinatorCheckDue()] * 6)
    assert c.announced() == ["c", "c", "c"]
    assert c.transport.sent("clock") == []


def test_a_higher_server_that_first_heard_of_a_lower_coordinator_takes_over() -> None:
    c = Election(C, join=False)
    c.tell(Membership(None, (A, B)))  # its own rank not known yet
    c.tell(CoordinatorAnnounced("b"))
    assert c.coordinator == "b"
    c.tell(Membership(3, (A, B)))
    assert c.coordinator == "c"
    assert c.announced() == ["c"]
    assert c.clock.messages == [CoordinatorAnnounced("b"), CoordinatorAnnounced("c")]


def test_an_announcement_naming_an_unknown_server_is_ignored_and_logged_once() -> None:
    a = Election(A, B, C)
    a.tell(CoordinatorAnnounced("c"))
    with capture_logs() as logs:
        a.tell(CoordinatorAnnounced("*"), CoordinatorAnnounced("*"), CoordinatorAnnounced("x"))
    assert a.coordinator == "c"
    ignored = [e["coordinator"] for e in logs if e["event"] == "announcement_ignored"]
    assert ignored == ["*", "x"]


def test_a_coordinator_the_reference_no_longer_lists_is_lost_without_a_call() -> None:
    a = Election(A, B, C)
    a.tell(CoordinatorAnnounced("c"))
    a.tell(Membership(1, (B,)))  # c expired at the reference
    a.tell(CoordinatorCheckDue())
    assert [r.endpoint for r in a.transport.sent("clock")] == []
    assert [r.endpoint for r in a.transport.sent("election")][-1] == B.address


def test_a_lower_server_learning_of_a_higher_one_keeps_its_coordinator() -> None:
    b = Election(B, A)
    assert b.coordinator == "b"
    b.tell(Membership(2, (A, C)))  # c will claim power itself
    assert b.transport.sent("election") == []
    b.tell(CoordinatorAnnounced("c"))
    assert b.coordinator == "c"


def test_without_a_rank_no_election_starts_until_one_is_known() -> None:
    a = Election(A, join=False)
    a.tell(Membership(None, (B,)))
    a.time.advance(5.0)
    a.tell(ElectionTick())
    assert a.transport.requests == [] and a.announced() == []
    a.tell(Membership(1, (B,)))
    assert [c.endpoint for c in a.transport.sent("election")] == [B.address]
