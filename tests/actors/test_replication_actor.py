"""ReplicationActor with a FakeTransport, recording routes and a hand-driven clock."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from actors.base import Node
from actors.messages import (
    AcksDue,
    AntiEntropyDue,
    Append,
    Appended,
    Applied,
    ClientRequest,
    LocalWrite,
    LocalWrites,
    Membership,
    NewWrites,
    PublishedEvents,
    RefreshThenRetry,
    SeenPublished,
    SyncStep,
    WriteDone,
    WriteFailed,
)
from actors.replication import ReplicationActor
from actors.routes import Routes
from actors.scheduler import ManualScheduler
from tests.fakes import FakeTransport, Mailbox, barrier, make_inbound
from transport.port import Inbound
from transport.protocol import (
    Event,
    Peer,
    PushRequest,
    Replicated,
    SyncRequest,
    event_to_wire,
    parse_peer_request,
    parse_server_publication,
    push_request,
    sync_reply,
)

B = Peer("b", 2, "tcp://b:5560")
C = Peer("c", 3, "tcp://c:5560")


class Replication:
    def __init__(self, heads: dict[str, int] | None = None) -> None:
        self.node = Node("server", "a")
        self.transport = FakeTransport()
        self.chat, self.persistence = Mailbox(), Mailbox()
        self.time = ManualScheduler()
        self.wall = 1000.0
        routes = Routes()
        routes.add("chat", self.chat)
        routes.add("persistence", self.persistence)
        self.ref = ReplicationActor.start(
            self.node,
            self.transport,
            routes,
            heads or {},
            now=self.time.now,
            wall=lambda: self.wall,
        )
        routes.add("replication", self.ref)

    def tell(self, *messages: Any) -> None:
        """Tell each message as the other actors send it: a LocalWrite as a batch of one
        (NewWrites), a Replicated publication as the graph's PublishedEvents."""
        for message in messages:
            if isinstance(message, LocalWrite):
                message = NewWrites((message,))
            elif isinstance(message, Replicated):
                message = PublishedEvents((message.event,))
            self.ref.tell(message)
        barrier(self.ref)

    def serve(self, inbound: Inbound) -> None:
        """A peer's request, as the server graph hands it over."""
        self.tell(parse_peer_request(inbound))

    def peers(self, *peers: Peer) -> None:
        self.tell(Membership(1, peers))

    def stats(self) -> dict[str, Any]:
        return self.ref.proxy().stats().get(timeout=5)

    def durable(self, append: Append, heads: dict[str, int]) -> None:
        """Play the persistence actor: every event of `append` is new and on disk."""
        self.tell(Appended(append.tag, append.events, heads))


@pytest.fixture
def rep() -> Replication:
    return Replication()


def theirs(origin: str, seq: int, **fields: Any) -> Event:
    return Event(origin, seq, 10 + seq, "login", user=fields.get("user", f"{origin}{seq}"))


# ---- local writes -------------------------------------------------------------------------


def test_local_write_becomes_the_next_event_of_this_origin() -> None:
    rep = Replication(heads={"a": 4, "b": 9})
    before = rep.node.lamport.value
    rep.tell(LocalWrite("publish", {"user": "ana", "channel": "g", "message": "hi"}, "t1"))
    append = rep.persistence.only(Append)
    [event] = append.events
    assert (event.origin, event.seq, event.op) == ("a", 5, "publish")
    assert (event.user, event.channel, event.message) == ("ana", "g", "hi")
    assert event.clock > before
    assert append.tag == LocalWrites()


def test_write_is_acknowledged_only_when_durable_and_applied_by_the_peer(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    append = rep.persistence.only(Append)
    rep.durable(append, {"a": 1})
    [push] = rep.transport.sent("replicate")
    assert push.endpoint == B.address
    assert push.data["origin"] == "a"
    pushed = parse_peer_request(make_inbound("replicate", push.data, key="peer"))
    assert isinstance(pushed, PushRequest) and pushed.events == append.events
    assert rep.chat.of(WriteDone) == []  # durable here, not yet at b

    push.complete({"status": "OK", "heads": {"a": 1}})
    barrier(rep.ref)
    assert rep.chat.only(WriteDone) == WriteDone("t1", append.events[0])


def test_a_batch_of_writes_is_one_append_one_push_and_one_release(rep: Replication) -> None:
    rep.peers(B)
    writes = tuple(LocalWrite("login", {"user": u}, f"t-{u}") for u in ("ana", "bob", "cy"))
    rep.tell(NewWrites(writes))
    append = rep.persistence.only(Append)
    assert [(e.seq, e.user) for e in append.events] == [(1, "ana"), (2, "bob"), (3, "cy")]
    rep.durable(append, {"a": 3})
    [push] = rep.transport.sent("replicate")
    assert len(push.data["events"]) == 3
    assert rep.transport.batches == 1  # the three replication-topic publications together
    push.complete({"status": "OK", "heads": {"a": 3}})
    barrier(rep.ref)
    [released] = rep.chat.batches
    assert [d.token for d in released.done] == ["t-ana", "t-bob", "t-cy"]


def test_the_acknowledgement_log_says_how_long_the_write_waited_since_durable_here(
    rep: Replication,
) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    rep.wall += 0.25
    with capture_logs() as logs:
        rep.transport.sent("replicate")[0].complete({"status": "OK", "heads": {"a": 1}})
        barrier(rep.ref)
    [acknowledged] = [line for line in logs if line["event"] == "writes_acknowledged"]
    assert acknowledged["stored_ms"] == 250.0
    assert (acknowledged["ids"], acknowledged["copies"]) == (["a:1"], 2)


def test_a_local_write_is_pushed_to_peers_only_once_durable_here(rep: Replication) -> None:
    # else a peer could store a write whose origin then fails to: the client would hear
    # `erro` about a post that exists elsewhere
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    assert rep.transport.sent("replicate") == []
    rep.durable(rep.persistence.only(Append), {"a": 1})
    assert len(rep.transport.sent("replicate")) == 1


def test_a_peer_reply_that_does_not_cover_the_write_does_not_acknowledge(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    rep.transport.sent("replicate")[0].complete({"status": "OK", "heads": {"a": 0}})
    barrier(rep.ref)
    assert rep.chat.of(WriteDone) == []
    # no progress: pushed again on the next tick, not in a busy loop
    assert rep.transport.sent("replicate", pending_only=True) == []
    rep.tell(AcksDue())
    assert len(rep.transport.sent("replicate", pending_only=True)) == 1


def test_a_push_the_peer_refuses_is_sent_again_on_the_tick_not_at_once(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    refused = {"status": "erro", "message": "cannot store: database or disk is full"}
    rep.transport.sent("replicate")[0].complete({**refused, "heads": {"a": 1}})
    barrier(rep.ref)
    assert rep.chat.of(WriteDone) == []  # an `erro` reply says nothing was stored
    rep.tell(AcksDue())
    assert rep.transport.sent("replicate", pending_only=True) == []  # b rests a while
    rep.time.advance(rep.node.timing.refused_push_retry)
    rep.tell(AcksDue())
    assert [e["seq"] for e in rep.transport.sent("replicate")[1].data["events"]] == [1]


def test_a_local_write_that_cannot_be_stored_is_refused_and_leaves_no_hole(
    rep: Replication,
) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"), LocalWrite("login", {"user": "bo"}, "t2"))
    first, second = rep.persistence.of(Append)
    full = "cannot store: database or disk is full"
    rep.tell(Appended(first.tag, (), {}, first.events, full))
    # t2 (seq 2) would follow a hole: it is refused with t1, before storage says so
    assert rep.chat.of(WriteFailed) == [WriteFailed("t1", full), WriteFailed("t2", full)]
    rep.tell(LocalWrite("login", {"user": "cy"}, "t3"))
    third = rep.persistence.of(Append)[2]
    assert [e.seq for e in third.events] == [1]  # the failed seq is taken again
    stale = "refused: event out of sequence"
    rep.tell(Appended(second.tag, (), {}, second.events, stale))  # t2's own notice, late
    rep.durable(third, {"a": 1})
    [push] = rep.transport.sent("replicate")  # only what was stored ever left this replica
    pushed = parse_peer_request(make_inbound("replicate", push.data, key="peer"))
    assert isinstance(pushed, PushRequest) and list(pushed.events) == list(third.events)
    published = [parse_server_publication(p.topic, p.message) for p in rep.transport.publishes]
    assert published == [Replicated(third.events[0])]
    push.complete({"status": "OK", "heads": {"a": 1}})
    barrier(rep.ref)
    assert rep.chat.only(WriteDone) == WriteDone("t3", third.events[0])


def test_a_pushed_batch_that_cannot_be_stored_is_refused_and_asked_for_again(
    rep: Replication,
) -> None:
    rep.peers(B)
    events = [theirs("b", 1), theirs("b", 2)]
    push = make_inbound(
        "replicate", {"events": [event_to_wire(e) for e in events], "origin": "b"}, key="peer"
    )
    rep.tell(parse_peer_request(push))
    append = rep.persistence.only(Append)
    full = "cannot store: database or disk is full"
    rep.tell(Appended(append.tag, (), {}, append.events, full))
    reply = rep.transport.reply_to(push).data
    assert (reply["status"], reply["message"], reply["heads"]) == ("erro", full, {})
    assert rep.chat.of(Applied) == []
    assert rep.stats()["heads"] == {}
    again = make_inbound("replicate", push.request.data, key="peer")
    rep.tell(parse_peer_request(again))  # released: the next push (or sync) brings them again
    assert rep.persistence.of(Append)[1].events == append.events


def test_a_sync_page_that_cannot_be_stored_ends_the_pull_and_is_asked_for_again(
    rep: Replication,
) -> None:
    rep.peers(B)
    rep.tell(AntiEntropyDue())
    rep.transport.sent("sync")[0].complete(
        {"status": "OK", "more": True, "events": [event_to_wire(theirs("b", 1))]}
    )
    barrier(rep.ref)
    append = rep.persistence.only(Append)
    rep.tell(Appended(append.tag, (), {}, append.events, "cannot store: disk I/O error"))
    assert len(rep.transport.sent("sync")) == 1  # no next page while storing fails
    rep.tell(AntiEntropyDue())
    assert rep.transport.sent("sync")[1].data["heads"] == {"b": 0}


def test_durable_local_event_is_published_on_the_replication_topic(rep: Replication) -> None:
    rep.tell(LocalWrite("channel", {"channel": "news", "user": "ana"}, "t1"))
    append = rep.persistence.only(Append)
    rep.durable(append, {"a": 1})
    [pub] = rep.transport.published_on("replication")
    assert pub.clock == append.events[0].clock
    assert parse_server_publication(pub.topic, pub.message) == Replicated(append.events[0])


def test_alone_a_write_is_acknowledged_once_durable(rep: Replication) -> None:
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    assert rep.chat.of(WriteDone) == []
    rep.durable(rep.persistence.only(Append), {"a": 1})
    assert rep.chat.only(WriteDone).token == "t1"
    assert rep.transport.sent("replicate") == []


def test_the_outbox_keeps_only_what_a_live_peer_may_lack(rep: Replication) -> None:
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    assert rep.stats()["outbox"] == 0  # alone: nobody to push it to
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "bob"}, "t2"))
    rep.durable(rep.persistence.of(Append)[1], {"a": 2})
    assert rep.stats()["outbox"] == 1
    rep.transport.sent("replicate")[0].complete({"status": "OK", "heads": {"a": 2}})
    barrier(rep.ref)
    assert rep.stats()["outbox"] == 0


def test_silent_peer_is_marked_lagging_after_the_timeout(rep: Replication) -> None:
    rep.peers(B, C)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    push_b, _ = rep.transport.sent("replicate")
    push_b.complete({"status": "OK", "heads": {"a": 1}})
    rep.tell(AcksDue())
    assert rep.chat.of(WriteDone) == []  # c has not answered yet
    rep.time.advance(rep.node.timing.replication_ack_timeout)
    rep.tell(AcksDue())
    assert rep.chat.only(WriteDone).token == "t1"
    assert rep.stats()["lagging"] == ["c"]


def test_lagging_peer_is_not_waited_for_until_it_catches_up(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.of(Append)[0], {"a": 1})
    first_push = rep.transport.sent("replicate")[0]
    rep.time.advance(5.0)
    rep.tell(AcksDue())
    assert rep.stats()["lagging"] == ["b"]
    rep.tell(LocalWrite("login", {"user": "bob"}, "t2"))
    rep.durable(rep.persistence.of(Append)[1], {"a": 2})
    assert [d.token for d in rep.chat.of(WriteDone)] == ["t1", "t2"]  # degraded, at once
    first_push.complete({"status": "OK", "heads": {"a": 2}})  # b caught up
    barrier(rep.ref)
    assert rep.stats()["lagging"] == []
    rep.tell(LocalWrite("login", {"user": "carl"}, "t3"))
    rep.durable(rep.persistence.of(Append)[2], {"a": 3})
    assert [d.token for d in rep.chat.of(WriteDone)] == ["t1", "t2"]  # waits for b again


def test_a_failed_push_is_sent_again_on_the_next_tick(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"))
    rep.durable(rep.persistence.only(Append), {"a": 1})
    rep.transport.sent("replicate")[0].fail()
    barrier(rep.ref)
    rep.tell(AcksDue())
    pushes = rep.transport.sent("replicate")
    assert len(pushes) == 2 and not pushes[1].answered
    assert [e["seq"] for e in pushes[1].data["events"]] == [1]


def test_only_one_push_per_peer_is_in_flight(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(LocalWrite("login", {"user": "ana"}, "t1"), LocalWrite("login", {"user": "bo"}, "t2"))
    first, second = rep.persistence.of(Append)
    rep.durable(first, {"a": 1})
    rep.durable(second, {"a": 2})
    [push] = rep.transport.sent("replicate")
    push.complete({"status": "OK", "heads": {"a": 1}})
    barrier(rep.ref)
    second = rep.transport.sent("replicate")[1]
    assert [e["seq"] for e in second.data["events"]] == [2]


# ---- events of other origins --------------------------------------------------------------


def test_replicated_event_in_sequence_is_stored(rep: Replication) -> None:
    rep.tell(Replicated(theirs("b", 1)))
    assert rep.persistence.only(Append) == Append((theirs("b", 1),), SeenPublished())


def test_duplicate_replicated_events_are_ignored(rep: Replication) -> None:
    rep.tell(Replicated(theirs("b", 1)), Replicated(theirs("b", 1)), Replicated(theirs("b", 1)))
    assert len(rep.persistence.of(Append)) == 1


def test_own_events_coming_back_are_ignored(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(Replicated(theirs("a", 1)))
    inbound = make_inbound("replicate", push_request([theirs("a", 1)], "b"), key="peer")
    rep.serve(inbound)
    assert rep.persistence.of(Append) == []
    assert rep.transport.reply_to(inbound).data["status"] == "OK"
    assert rep.transport.sent("sync") == []


def test_stored_events_of_others_are_told_to_chat(rep: Replication) -> None:
    rep.tell(Replicated(theirs("b", 1)))
    append = rep.persistence.only(Append)
    rep.durable(append, {"b": 1})
    assert rep.chat.only(Applied) == Applied(append.events)


def test_a_gap_triggers_a_sync_from_a_peer() -> None:
    rep = Replication(heads={"b": 1})
    rep.peers(B, C)
    rep.tell(Replicated(theirs("d", 3)))  # d does not push to us: its publications count
    assert rep.persistence.of(Append) == []
    [sync] = rep.transport.sent("sync")
    assert sync.data["heads"] == {"b": 1}
    sync.complete(sync_reply([theirs("d", s) for s in (1, 2, 3)], False, {}))
    barrier(rep.ref)
    append = rep.persistence.only(Append)
    assert [e.id for e in append.events] == ["d:1", "d:2", "d:3"]
    assert append.tag == SyncStep(B.name, more=False)


def test_publications_of_pushing_peers_are_left_to_their_pushes() -> None:
    rep = Replication(heads={"b": 1})
    rep.peers(B, C)
    rep.tell(Replicated(theirs("b", 2)), Replicated(theirs("c", 5)))
    assert rep.persistence.of(Append) == []
    assert rep.transport.sent("sync") == []


def test_a_sync_with_more_asks_again_from_the_new_heads(rep: Replication) -> None:
    rep.peers(B)
    rep.tell(RefreshThenRetry(ClientRequest(make_inbound("users"), True)))
    first = rep.transport.sent("sync")[0]
    first.complete(sync_reply([theirs("b", 1)], True, {}))
    barrier(rep.ref)
    rep.durable(rep.persistence.only(Append), {"b": 1})
    second = rep.transport.sent("sync")[1]
    assert second.data["heads"] == {"b": 1}
    assert rep.chat.of(ClientRequest) == []
    second.complete({"status": "OK", "more": False, "events": []})
    barrier(rep.ref)
    assert len(rep.chat.of(ClientRequest)) == 1


def test_a_catch_up_round_reports_its_events_and_its_own_duration() -> None:
    rep = Replication(heads={"b": 1})
    rep.peers(B)
    rep.time.advance(100.0)
    rep.tell(Replicated(theirs("d", 2)))  # a gap: the round starts now
    rep.time.advance(0.25)
    rep.transport.sent("sync")[0].complete(sync_reply([theirs("d", s) for s in (1, 2)], False, {}))
    barrier(rep.ref)
    with capture_logs() as logs:
        rep.durable(rep.persistence.only(Append), {"b": 1, "d": 2})
    [done] = [line for line in logs if line["event"] == "catchup_done"]
    assert (done["events"], done["seconds"], done["heads"]) == (2, 0.25, {"b": 1, "d": 2})
    last = rep.stats()["last_catchup"]
    assert (last["events"], last["seconds"]) == (2, 0.25)


def test_push_from_a_peer_is_stored_then_answered_with_heads(rep: Replication) -> None:
    rep.peers(B)
    events = [theirs("b", 2), theirs("b", 1)]
    inbound = make_inbound("replicate", push_request(events, "b"), key="peer")
    rep.serve(inbound)
    append = rep.persistence.only(Append)
    assert [e.id for e in append.events] == ["b:1", "b:2"]
    assert not rep.transport.replied(inbound)  # not before it is durable
    rep.durable(append, {"b": 2})
    assert rep.transport.reply_to(inbound).data == {"status": "OK", "heads": {"b": 2}}
    assert rep.chat.only(Applied).events == append.events


def test_duplicate_push_is_answered_at_once() -> None:
    rep = Replication(heads={"b": 2})
    inbound = make_inbound("replicate", push_request([theirs("b", 2)], "b"), key="peer")
    rep.serve(inbound)
    assert rep.persistence.of(Append) == []
    assert rep.transport.reply_to(inbound).data == {"status": "OK", "heads": {"b": 2}}


def test_junk_in_a_push_is_skipped(rep: Replication) -> None:
    [wire] = push_request([theirs("b", 1)], "b")["events"]
    inbound = make_inbound("replicate", {"events": ["junk", {"seq": 1}, wire]}, key="peer")
    rep.serve(inbound)
    assert [e.id for e in rep.persistence.only(Append).events] == ["b:1"]
    rep.serve(make_inbound("replicate", {"events": "nope"}, key="peer"))
    assert len(rep.persistence.of(Append)) == 1


def test_sync_requests_are_served_by_persistence_with_a_capped_limit(rep: Replication) -> None:
    inbound = make_inbound("sync", {"heads": {"a": "3", "b": 1}, "limit": 10**9}, key="peer")
    rep.serve(inbound)
    assert rep.persistence.only(SyncRequest) == SyncRequest(
        inbound, {"a": 3, "b": 1}, rep.node.timing.catchup_batch
    )


# ---- read-your-writes refresh -------------------------------------------------------------


def test_refresh_without_peers_hands_the_request_back_at_once(rep: Replication) -> None:
    request = ClientRequest(make_inbound("publish"), retried=True)
    rep.tell(RefreshThenRetry(request))
    assert rep.chat.messages == [request]


def test_refresh_pulls_from_every_peer_before_handing_the_request_back(rep: Replication) -> None:
    rep.peers(B, C)
    request = ClientRequest(make_inbound("publish"), retried=True)
    rep.tell(RefreshThenRetry(request))
    sync_b, sync_c = rep.transport.sent("sync")
    assert {sync_b.endpoint, sync_c.endpoint} == {B.address, C.address}
    sync_b.complete({"status": "OK", "more": False, "events": []})
    barrier(rep.ref)
    assert rep.chat.messages == []
    channel = Event("c", 1, 5, "channel", channel="news")
    sync_c.complete(sync_reply([channel], False, {}))
    barrier(rep.ref)
    assert rep.chat.messages == []  # stored first
    rep.durable(rep.persistence.only(Append), {"c": 1})
    assert rep.chat.messages == [Applied((channel,)), request]  # the channel before the retry


def test_a_failed_sync_still_ends_the_refresh(rep: Replication) -> None:
    rep.peers(B)
    request = ClientRequest(make_inbound("publish"), retried=True)
    rep.tell(RefreshThenRetry(request))
    rep.transport.sent("sync")[0].fail()
    barrier(rep.ref)
    assert rep.chat.messages == [request]


def test_anti_entropy_pulls_from_a_peer(rep: Replication) -> None:
    rep.tell(AntiEntropyDue())
    assert rep.transport.requests == []
    rep.peers(B)
    rep.tell(AntiEntropyDue())
    assert [r.endpoint for r in rep.transport.sent("sync")] == [B.address]


def test_refresh_asks_every_peer_even_while_a_gap_catch_up_is_running() -> None:
    rep = Replication()
    rep.peers(B, C)
    rep.tell(Replicated(theirs("b", 3)))  # a gap: a sync from b starts
    request = ClientRequest(make_inbound("publish"), retried=True)
    rep.tell(RefreshThenRetry(request))  # the record may be on c only
    rep.transport.sent("sync")[0].complete({"status": "OK", "more": False, "events": []})
    barrier(rep.ref)
    asked = {s.endpoint for s in rep.transport.sent("sync")}
    assert not rep.chat.of(ClientRequest) or C.address in asked, (
        "the request was handed back before c was asked"
    )
    for sync in rep.transport.sent("sync", pending_only=True):
        sync.complete({"status": "OK", "more": False, "events": []})
    barrier(rep.ref)
    assert rep.chat.of(ClientRequest) == [request]


def test_refresh_hands_the_request_back_only_after_events_in_flight_are_applied() -> None:
    rep = Replication()
    rep.peers(B)
    channel = Event("b", 1, 5, "channel", channel="news")
    rep.tell(Replicated(channel))  # being stored: claimed, not yet durable
    request = ClientRequest(make_inbound("publish"), retried=True)
    rep.tell(RefreshThenRetry(request))
    rep.transport.sent("sync")[0].complete(sync_reply([channel], False, {}))
    barrier(rep.ref)
    assert rep.chat.messages == [], "the retry would be decided without the channel"
    rep.durable(rep.persistence.only(Append), {"b": 1})
    assert rep.chat.messages == [Applied((channel,)), request]
