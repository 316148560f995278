"""ChatActor with a FakeTransport and recording routes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pykka
import pytest

from actors.base import Node
from actors.chat import ChatActor
from actors.messages import (
    Applied,
    ClientRequest,
    ClientRequests,
    HistoryQuery,
    LocalWrite,
    MessageHandled,
    RefreshThenRetry,
    WriteDone,
    WriteFailed,
    WritesDone,
)
from actors.presence import PresenceActor
from actors.rate_limit import DEFAULT_SHARE, FairShare
from actors.routes import Routes
from actors.scheduler import ManualScheduler
from config.timing import DEFAULT_TIMING
from tests.fakes import FakeTransport, Mailbox, barrier, make_inbound
from transport.fields import MAX_MESSAGE_CHARS
from transport.port import Inbound
from transport.protocol import Event, ReadHistory


class Chat:
    def __init__(self, users: list[str], channels: list[str]) -> None:
        self.transport = FakeTransport()
        self.replication, self.persistence, self.clock = Mailbox(), Mailbox(), Mailbox()
        self.presence = PresenceActor.start(Node("server", "a"), self.transport)
        routes = Routes()
        routes.add("replication", self.replication)
        routes.add("persistence", self.persistence)
        routes.add("clock", self.clock)
        routes.add("presence", self.presence)
        self.ref: pykka.ActorRef = ChatActor.start(
            Node("server", "a"), self.transport, routes, users, channels
        )

    def ask(self, service: str, retried: bool = False, **data: Any) -> Inbound:
        inbound = make_inbound(service, data)
        self.ref.tell(ClientRequest(inbound, retried))
        barrier(self.ref, self.presence)
        return inbound

    def tell(self, message: Any) -> None:
        """Tell `message` as replication sends it: a WriteDone in a batch of one."""
        if isinstance(message, WriteDone):
            message = WritesDone((message,))
        self.ref.tell(message)
        barrier(self.ref, self.presence)

    def answer(self, inbound: Inbound) -> dict[str, Any]:
        return self.transport.reply_to(inbound).data


@pytest.fixture
def chat() -> Chat:
    return Chat(users=["ana", "bob"], channels=["general"])


def written(chat: Chat, write: LocalWrite, **fields: Any) -> Event:
    """Play the replication actor: the write became an event; tell chat it is done."""
    event = Event("a", 1, 42, write.op, timestamp=1700000000.5, **write.fields, **fields)
    chat.tell(WriteDone(write.token, event))
    return event


def test_reads_are_answered_at_once(chat: Chat) -> None:
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob"]
    assert chat.answer(chat.ask("channels")) == {"channels": ["general"], "users": ["general"]}
    assert chat.answer(chat.ask("login", user="ana")) == {"status": "sucesso"}
    assert chat.replication.messages == []


def test_publish_is_handed_to_replication_and_answered_only_when_done(chat: Chat) -> None:
    inbound = chat.ask("publish", user="ana", channel="general", message="hello")
    write = chat.replication.only(LocalWrite)
    assert (write.op, write.fields) == (
        "publish",
        {"user": "ana", "channel": "general", "message": "hello"},
    )
    assert chat.transport.replies == [] and chat.transport.publishes == []

    written(chat, write)
    assert chat.answer(inbound) == {"status": "OK"}
    [pub] = chat.transport.publishes
    assert (pub.key, pub.topic, pub.clock) == ("pub", "general", 42)
    assert pub.message["service"] == "publish" and pub.message["type"] == "channel"
    assert pub.message["user"] == pub.message["src"] == "ana"
    assert pub.message["message"] == "hello"
    assert pub.message["data"] == {
        "user": "ana",
        "channel": "general",
        "message": "hello",
        "timestamp": 1700000000.5,
    }


def test_private_message_is_published_on_the_destination_topic(chat: Chat) -> None:
    inbound = chat.ask("message", **{"from": "ana", "to": "bob", "message": "psst"})
    write = chat.replication.only(LocalWrite)
    written(chat, write)
    assert chat.answer(inbound) == {"status": "OK"}
    [pub] = chat.transport.publishes
    assert pub.topic == "bob"
    assert {pub.message[k] for k in ("src", "from", "user")} == {"ana"}
    assert pub.message["dst"] == pub.message["to"] == "bob"


def test_login_of_a_new_user_is_replicated_and_not_published(chat: Chat) -> None:
    inbound = chat.ask("login", username="zoe")
    write = chat.replication.only(LocalWrite)
    written(chat, write)
    assert chat.answer(inbound) == {"status": "sucesso"}
    assert chat.transport.publishes == []
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob", "zoe"]


def test_two_writes_in_flight_are_answered_to_their_own_requests(chat: Chat) -> None:
    first = chat.ask("channel", channel="one")
    second = chat.ask("channel", channel="two")
    w1, w2 = chat.replication.of(LocalWrite)
    assert w1.token != w2.token
    written(chat, w2)
    assert chat.transport.replied(second) and not chat.transport.replied(first)
    written(chat, w1)
    assert chat.answer(first) == {"status": "sucesso"}


def test_a_second_create_of_a_channel_in_flight_is_refused(chat: Chat) -> None:
    chat.ask("channel", channel="news")
    refused = chat.answer(chat.ask("channel", name="news"))
    assert refused["status"] == "erro" and "exists" in refused["description"]
    assert len(chat.replication.of(LocalWrite)) == 1


def test_a_write_that_could_not_be_stored_is_refused_and_can_be_made_again(chat: Chat) -> None:
    inbound = chat.ask("channel", channel="news")
    write = chat.replication.only(LocalWrite)
    chat.tell(WriteFailed(write.token, "cannot store: database or disk is full"))
    assert chat.answer(inbound) == {
        "status": "erro",
        "description": "cannot store: database or disk is full",
        "message": "cannot store: database or disk is full",
    }
    assert chat.transport.publishes == []
    chat.ask("channel", channel="news")  # not "already exists": it never was
    assert len(chat.replication.of(LocalWrite)) == 2


def test_bad_input_gets_erro_and_the_actor_keeps_serving(chat: Chat) -> None:
    for service, data in [
        ("publish", {"user": "ana", "channel": "general"}),
        ("login", {"user": "x" * 300}),
        ("message", {"src": "ana", "dst": "bob", "message": "\x07"}),
        ("nonsense", {}),
    ]:
        reply = chat.answer(chat.ask(service, **data))
        assert reply["status"] == "erro"
        assert reply["description"] == reply["message"] != ""
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob"]
    assert chat.ref.is_alive()


def test_a_failing_message_is_contained(chat: Chat) -> None:
    chat.tell(WriteDone(token=999, event=Event("a", 1, 1, "login", user="x")))  # unknown token
    assert chat.ref.is_alive()
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob"]


def test_unknown_channel_triggers_a_refresh_then_a_refusal(chat: Chat) -> None:
    inbound = chat.ask("publish", user="ana", channel="nowhere", message="m")
    assert chat.transport.replies == []
    refresh = chat.replication.only(RefreshThenRetry)
    assert refresh.request == ClientRequest(inbound, retried=True)
    chat.tell(refresh.request)  # replication found nothing new: hand it back
    reply = chat.answer(inbound)
    assert reply["status"] == "erro" and "unknown channel" in reply["message"]


def test_unknown_user_found_by_the_refresh_is_accepted(chat: Chat) -> None:
    inbound = chat.ask("message", src="ana", dst="late", message="hi")
    refresh = chat.replication.only(RefreshThenRetry)
    chat.tell(Applied((Event("b", 1, 5, "login", user="late"),)))
    chat.tell(refresh.request)
    write = chat.replication.only(LocalWrite)
    assert write.fields == {"user": "ana", "dst": "late", "message": "hi"}
    written(chat, write)
    assert chat.answer(inbound) == {"status": "OK"}


def test_replicated_events_update_what_the_actor_knows(chat: Chat) -> None:
    chat.tell(
        Applied(
            (
                Event("b", 1, 3, "channel", user="zed", channel="news"),
                Event("b", 2, 4, "publish", user="yan", channel="news", message="m"),
            )
        )
    )
    assert chat.answer(chat.ask("channels"))["channels"] == ["general", "news"]
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob", "yan", "zed"]
    assert chat.answer(chat.ask("channel", channel="news"))["status"] == "erro"


def test_history_is_asked_of_persistence(chat: Chat) -> None:
    inbound = chat.ask("history", channel="general", limit=5, before_clock=10)
    assert chat.persistence.only(HistoryQuery) == HistoryQuery(
        inbound, ReadHistory(channel="general", limit=5, before_clock=10)
    )
    private = chat.ask("history", user="ana", peer="bob")
    assert chat.persistence.of(HistoryQuery)[1] == HistoryQuery(
        private, ReadHistory(user="ana", peer="bob")
    )
    assert chat.transport.replies == []


def test_every_handled_request_is_counted_for_clock_sync(chat: Chat) -> None:
    every = DEFAULT_TIMING.clock_sync_every_messages

    def counted() -> int:
        return sum(m.count for m in chat.clock.of(MessageHandled))

    chat.ask("users")
    chat.ask("nonsense")
    chat.ask("history", channel="general")
    write_in = chat.ask("login", user="new")
    for _ in range(every - 4):  # with the three above: one short of `every`
        chat.ask("users")
    assert counted() == 0  # told only when a multiple of `every` is reached
    written(chat, chat.replication.only(LocalWrite))
    assert chat.transport.replied(write_in)
    assert counted() == every
    assert chat.ref.proxy().stats().get(timeout=5)["requests_handled"] == every


def test_a_resend_of_a_write_still_in_flight_is_answered_with_its_outcome_not_stored(
    chat: Chat,
) -> None:
    post = {"user": "ana", "channel": "general", "message": "once", "request_id": "r1"}
    first = chat.ask("publish", **post)
    resend = chat.ask("publish", **post)  # the client timed out and sent it again
    write = chat.replication.only(LocalWrite)  # one write, not two
    assert chat.transport.replies == []
    written(chat, write)
    assert chat.answer(first) == chat.answer(resend) == {"status": "OK"}
    assert len(chat.transport.publishes) == 1
    later = chat.ask("publish", **post)  # and once stored, a resend is answered at once
    assert chat.answer(later) == {"status": "OK"}
    assert len(chat.replication.of(LocalWrite)) == 1


def test_a_resend_of_a_write_that_failed_gets_the_failure_and_may_be_tried_again(
    chat: Chat,
) -> None:
    post = {"user": "ana", "channel": "general", "message": "full", "request_id": "r2"}
    first, resend = chat.ask("publish", **post), chat.ask("publish", **post)
    write = chat.replication.only(LocalWrite)
    chat.tell(WriteFailed(write.token, "cannot store: database or disk is full"))
    assert chat.answer(first)["status"] == chat.answer(resend)["status"] == "erro"
    chat.ask("publish", **post)
    assert len(chat.replication.of(LocalWrite)) == 2


def overloaded_chat(
    share: FairShare = DEFAULT_SHARE, max_in_flight: int = 1000
) -> tuple[Chat, ManualScheduler]:
    time = ManualScheduler()
    chat = Chat(users=["ana", "bob"], channels=["general"])
    chat.ref.stop()
    routes = Routes()
    for name, box in (("replication", chat.replication), ("persistence", chat.persistence)):
        routes.add(name, box)
    routes.add("clock", chat.clock)
    routes.add("presence", chat.presence)
    chat.ref = ChatActor.start(
        Node("server", "a"),
        chat.transport,
        routes,
        ["ana", "bob"],
        ["general"],
        time.now,
        share,
        max_in_flight,
    )
    return chat, time


def test_writes_are_shed_while_too_many_wait_for_replicas() -> None:
    chat, _ = overloaded_chat(max_in_flight=1)
    chat.ask("login", user="new1")  # replicas are slow: it waits
    shed = chat.ask("channel", channel="news")
    assert "server busy" in chat.answer(shed)["description"]
    assert chat.answer(chat.ask("users"))["users"] == ["ana", "bob"]  # reads still served
    assert len(chat.replication.of(LocalWrite)) == 1
    written(chat, chat.replication.of(LocalWrite)[0])  # the backlog clears: writes go on
    chat.ask("channel", channel="news")  # the shed creation did not keep the name taken
    assert [w.op for w in chat.replication.of(LocalWrite)] == ["login", "channel"]


def test_a_connection_over_its_share_is_refused_with_a_reason() -> None:
    chat, _ = overloaded_chat(FairShare(new_name_burst=2, request_burst=5))
    greedy = [make_inbound("login", {"user": f"bot{i}"}, key="clients") for i in range(3)]
    for inbound in greedy:
        chat.tell(ClientRequest(replace(inbound, sender=b"greedy")))
    replies = [chat.transport.reply_to(replace(i, sender=b"greedy")) for i in greedy[2:]]
    assert "rate limit" in replies[0].data["description"]
    honest = make_inbound("login", {"user": "carol"})
    chat.tell(ClientRequest(replace(honest, sender=b"honest")))
    assert len(chat.replication.of(LocalWrite)) == 3  # two of greedy's, carol's
    for _ in range(3):
        chat.tell(ClientRequest(replace(make_inbound("users"), sender=b"greedy")))
    last = chat.transport.replies[-1].data
    assert "rate limit" in last["description"] and "requests" in last["description"]


def test_a_request_that_waited_past_the_pumps_deadline_is_not_served() -> None:
    chat, time = overloaded_chat()
    stale = replace(make_inbound("login", {"user": "late"}), received=time.now())
    time.advance(DEFAULT_TIMING.request_deadline + 0.1)  # the process was stopped meanwhile
    chat.tell(ClientRequest(stale))
    assert chat.replication.of(LocalWrite) == []  # no write its client was told had failed
    assert not chat.transport.replied(stale)  # the pump answered it at its deadline
    fresh = replace(make_inbound("login", {"user": "now"}), received=time.now())
    chat.tell(ClientRequest(fresh))
    assert len(chat.replication.of(LocalWrite)) == 1


def test_a_batch_is_decided_together_and_each_request_answered_on_its_own(chat: Chat) -> None:
    good = make_inbound("publish", {"user": "ana", "channel": "general", "message": "hi"})
    also = make_inbound("message", {"src": "ana", "dst": "bob", "message": "psst"})
    too_long = "x" * (MAX_MESSAGE_CHARS + 1)
    refused = make_inbound("publish", {"user": "ana", "channel": "general", "message": too_long})
    junk = make_inbound("publish", {"user": 5})
    read = make_inbound("channels")
    chat.tell(ClientRequests([good, refused, also, junk, read]))
    # one hand-over to replication for both writes, one pump command for the three answers
    [batch] = chat.replication.batches
    assert [w.fields["message"] for w in batch.writes] == ["hi", "psst"]
    assert chat.transport.batches == 1
    assert chat.answer(refused)["status"] == "erro"
    assert chat.answer(junk)["status"] == "erro"
    assert chat.answer(read)["channels"] == ["general"]
    assert not chat.transport.replied(good) and not chat.transport.replied(also)
    events = [
        Event("a", n, 40 + n, w.op, timestamp=1.0, **w.fields)
        for n, w in enumerate(batch.writes, 1)
    ]
    chat.tell(
        WritesDone(tuple(WriteDone(w.token, e) for w, e in zip(batch.writes, events, strict=True)))
    )
    assert chat.answer(good)["status"] == "OK"
    assert chat.answer(also)["status"] == "OK"
    assert chat.transport.batches == 2  # the two answers and their publications: one command
    assert [p.topic for p in chat.transport.publishes] == ["general", "bob"]


def test_who_and_users_list_the_users_requests_named(chat: Chat) -> None:
    chat.ask("login", user="ana")
    chat.ask("history", channel="general")  # names nobody
    assert chat.answer(chat.ask("who", user="bob")) == {"status": "OK", "online": ["ana", "bob"]}
    users = chat.answer(chat.ask("users"))
    assert users == {"users": ["ana", "bob"], "online": ["ana", "bob"]}
    assert chat.answer(chat.ask("who", user="no one")).get("status") == "erro"
