"""PersistenceActor: durable appends reported back, history and sync served from the store."""

from __future__ import annotations

from pathlib import Path

import pykka
import pytest
from structlog.testing import capture_logs

from actors.base import Node
from actors.event_store import OUT_OF_SEQUENCE
from actors.messages import Append, Appended, HistoryQuery
from actors.pages import PAGE_BYTES, encoded_size
from actors.persistence import PersistenceActor
from tests.fakes import FakeTransport, Mailbox, barrier, make_inbound
from transport import protocol
from transport.codec import MAX_FRAME_BYTES
from transport.fields import MAX_MESSAGE_CHARS
from transport.protocol import Event, ReadHistory, Refusal, SyncPage, SyncRequest

BIG = "\U0001f642" * MAX_MESSAGE_CHARS  # the largest legal message: 40 000 bytes of UTF-8


def post(origin: str, seq: int, clock: int, channel: str = "general", message: str = "") -> Event:
    text = message or f"m{clock}"
    return Event(origin, seq, clock, "publish", user="ana", channel=channel, message=text)


class Store:
    def __init__(self, path: Path, max_db_mb: float = 0.0) -> None:
        self.transport = FakeTransport()
        self.appended = Mailbox()
        self.ref: pykka.ActorRef = PersistenceActor.start(
            Node("server", "a"), path, self.transport, self.appended, max_db_mb
        )

    def append(self, *events: Event, tag: object = "t") -> None:
        self.ref.tell(Append(events, tag))
        barrier(self.ref)  # the mailbox is empty behind the Append: it is committed


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "a.sqlite3")


def test_append_reports_the_fresh_events_and_the_new_heads(store: Store) -> None:
    store.append(post("a", 1, 1), post("b", 1, 2), tag=("local", 1))
    assert store.appended.messages == [
        Appended(("local", 1), (post("a", 1, 1), post("b", 1, 2)), {"a": 1, "b": 1})
    ]


def test_a_duplicate_append_reports_nothing_fresh(store: Store) -> None:
    store.append(post("a", 1, 1))
    store.append(post("a", 1, 1), post("a", 2, 2), tag="again")
    assert store.appended.messages[1] == Appended("again", (post("a", 2, 2),), {"a": 2})


def test_an_event_claimed_twice_in_one_commit_is_new_for_the_first_append_only(
    store: Store,
) -> None:
    store.ref.tell(Append((post("b", 1, 1),), "push"))
    store.ref.tell(Append((post("b", 1, 1), post("b", 2, 2)), "sync"))
    barrier(store.ref)
    assert [(m.tag, m.fresh) for m in store.appended.messages] == [
        ("push", (post("b", 1, 1),)),
        ("sync", (post("b", 2, 2),)),
    ]


def test_an_event_past_a_gap_is_reported_as_not_stored(store: Store) -> None:
    store.append(post("b", 2, 2), tag="late")
    assert store.appended.messages == [
        Appended("late", (), {}, (post("b", 2, 2),), OUT_OF_SEQUENCE)
    ]


def test_a_full_database_fails_every_append_of_the_commit_loudly_once_until_it_recovers(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "a.sqlite3", max_db_mb=0.1)
    with capture_logs() as logs:
        seq = 1
        while not store.appended.messages or not store.appended.messages[-1].failed:
            store.append(post("a", seq, seq, message=BIG), tag=seq)
            seq += 1
        full = store.appended.messages[-1]
        store.ref.tell(Append((post("b", 1, 1),), "other"))  # the same commit as "again"
        store.append(post("a", seq - 1, seq - 1, message=BIG), tag="again")
        second, third = store.appended.messages[-2:]
    stored = seq - 2
    assert full.fresh == () and full.heads == {"a": stored}
    assert full.error == "cannot store: database or disk is full"
    assert (second.failed, second.error) == ((post("b", 1, 1),), full.error)
    assert third.failed and third.heads == {"a": stored}
    failures = [line for line in logs if line["event"] == "store_append_failed"]
    assert [(f["error"], f["log_level"]) for f in failures] == [(full.error, "error")]

    inbound = make_inbound("store_limit", {"max_db_mb": 0}, key="peer")
    store.ref.ask(protocol.parse_peer_request(inbound), timeout=5)
    assert store.transport.reply_to(inbound).data == {"status": "OK", "max_db_mb": 0}
    with capture_logs() as logs:
        store.append(post("a", seq - 1, seq - 1, message=BIG), tag="lifted")
    assert store.appended.messages[-1].heads == {"a": stored + 1}
    assert [line["event"] for line in logs] == ["store_append_recovered"]


@pytest.mark.parametrize("value", [-1, "10", None, True, float("nan")])
def test_a_bad_store_limit_is_refused(value: object) -> None:
    inbound = make_inbound("store_limit", {"max_db_mb": value}, key="peer")
    assert protocol.parse_peer_request(inbound) == Refusal("max_db_mb must be a number >= 0")


def test_appends_committed_together_are_reported_each_to_its_own_tag(store: Store) -> None:
    for seq in range(1, 6):
        store.ref.tell(Append((post("a", seq, seq),), seq))
    barrier(store.ref)
    assert [(m.tag, [e.seq for e in m.fresh]) for m in store.appended.messages] == [
        (seq, [seq]) for seq in range(1, 6)
    ]
    assert store.appended.messages[-1].heads == {"a": 5}


def test_stored_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "node" / "a.sqlite3"
    first = Store(path)
    first.append(
        Event("a", 1, 1, "login", user="zoe"),
        Event("b", 1, 2, "channel", user="zoe", channel="news"),
        post("b", 2, 3),
    )
    first.ref.stop()
    again = Store(path)
    snapshot = again.ref.proxy().snapshot().get(timeout=5)
    assert snapshot.heads == {"a": 1, "b": 2}
    assert snapshot.users == ["ana", "zoe"]
    assert snapshot.channels == ["news"]


def test_queued_appends_are_committed_when_the_actor_stops(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    first = Store(path)
    first.ref.tell(Append((post("a", 1, 1),), "late"))
    first.ref.stop()
    assert [m.tag for m in first.appended.messages] == ["late"]
    assert Store(path).ref.proxy().snapshot().get(timeout=5).heads == {"a": 1}


def test_channel_history_is_answered_in_the_shared_order(store: Store) -> None:
    store.append(post("b", 1, 5), post("a", 1, 5), post("a", 2, 3), post("a", 3, 4, "other"))
    inbound = make_inbound("history", {"channel": "general"})
    store.ref.ask(HistoryQuery(inbound, ReadHistory(channel="general", limit=50)), timeout=5)
    reply = store.transport.reply_to(inbound).data
    assert reply["status"] == "OK"
    assert [(m["clock"], m["id"]) for m in reply["messages"]] == [
        (3, "a:2"),
        (5, "a:1"),
        (5, "b:1"),
    ]
    assert reply["messages"][0] == protocol.history_reply([post("a", 2, 3)])["messages"][0]


def test_private_history_is_answered(store: Store) -> None:
    store.append(
        Event("a", 1, 1, "message", user="ana", dst="bob", message="hi"),
        Event("b", 1, 2, "message", user="bob", dst="ana", message="yo"),
        Event("b", 2, 3, "message", user="bob", dst="carl", message="no"),
    )
    inbound = make_inbound("history")
    store.ref.ask(HistoryQuery(inbound, ReadHistory(user="bob", peer="ana", limit=1)), timeout=5)
    assert [m["message"] for m in store.transport.reply_to(inbound).data["messages"]] == ["yo"]


def test_sync_serves_what_the_caller_lacks_including_unflushed_appends(store: Store) -> None:
    store.append(post("a", 1, 1), post("a", 2, 2))
    store.ref.tell(Append((post("b", 1, 3),), "queued"))  # not flushed yet
    inbound = make_inbound("sync", key="peer")
    store.ref.ask(SyncRequest(inbound, {"a": 1}, limit=10), timeout=5)
    reply = store.transport.reply_to(inbound).data
    assert protocol.parse_sync_reply(reply) == SyncPage((post("a", 2, 2), post("b", 1, 3)), False)
    assert reply["heads"] == {"a": 2, "b": 1}


def test_a_sync_page_of_the_largest_messages_is_bounded_in_bytes(store: Store) -> None:
    store.append(*(post("a", s, s, message=BIG) for s in range(1, 31)))
    inbound = make_inbound("sync", key="peer")
    store.ref.ask(SyncRequest(inbound, {}, limit=5000), timeout=5)
    reply = store.transport.reply_to(inbound).data
    assert reply["more"] is True and reply["heads"] == {"a": 30}
    assert 0 < encoded_size(reply["events"]) <= PAGE_BYTES


def test_a_history_reply_of_the_largest_messages_fits_in_a_frame(store: Store) -> None:
    store.append(*(post("a", s, s, message=BIG) for s in range(1, 61)))
    inbound = make_inbound("history", {"channel": "general"})
    store.ref.ask(HistoryQuery(inbound, ReadHistory(channel="general", limit=1000)), timeout=5)
    reply = store.transport.reply_to(inbound).data
    assert 0 < len(reply["messages"]) < 60
    assert encoded_size(reply) < MAX_FRAME_BYTES


def test_sync_says_when_there_is_more(store: Store) -> None:
    store.append(*(post("a", s, s) for s in range(1, 6)))
    inbound = make_inbound("sync", key="peer")
    store.ref.ask(SyncRequest(inbound, {}, limit=2), timeout=5)
    reply = store.transport.reply_to(inbound).data
    assert [e["seq"] for e in reply["events"]] == [1, 2]
    assert reply["more"] is True


def test_an_unreadable_store_is_moved_aside_and_the_replica_starts_empty(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.sqlite3"
    first = Store(path)
    first.append(*(post("a", seq, seq) for seq in range(1, 3001)))
    first.ref.stop()
    size = path.stat().st_size
    with path.open("r+b") as db:  # 4 KB of garbage in the middle, as a failing disk would
        db.seek(size // 2)
        db.write(bytes(range(256)) * 16)
    with capture_logs() as logs:
        again = Store(path)
        snapshot = again.ref.proxy().snapshot().get(timeout=5)
    assert snapshot.heads == {} and snapshot.users == []
    [unreadable] = [line for line in logs if line["event"] == "store_unreadable"]
    assert "malformed" in unreadable["error"]
    assert Path(unreadable["moved_to"]).stat().st_size == size  # kept for inspection
    again.append(post("b", 1, 1))  # and it serves again
    assert again.appended.messages[-1].heads == {"b": 1}
