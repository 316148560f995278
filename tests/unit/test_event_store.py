"""The SQLite event log: idempotent appends, contiguous heads, nothing dropped silently,
catch-up and history pages bounded in bytes, ordered history, durability."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.event_store import INVALID, OUT_OF_SEQUENCE, EventStore, Stored
from actors.pages import PAGE_BYTES, encoded_size, wire_size
from tests.fakes import history_order
from transport import protocol
from transport.codec import MAX_FRAME_BYTES
from transport.fields import MAX_MESSAGE_CHARS
from transport.protocol import Event, Operation

BIG = "\U0001f642" * MAX_MESSAGE_CHARS  # the largest legal message: 40 000 bytes of UTF-8


def post(
    origin: str,
    seq: int,
    clock: int,
    channel: str = "general",
    user: str = "ana",
    message: str = "",
) -> Event:
    return Event(
        origin,
        seq,
        clock,
        "publish",
        user=user,
        channel=channel,
        message=message or f"{origin}{seq}",
        timestamp=1700000000.0 + seq,
    )


def dm(origin: str, seq: int, clock: int, src: str, dst: str) -> Event:
    return Event(origin, seq, clock, "message", user=src, dst=dst, message=f"{src}->{dst}@{clock}")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    s = EventStore(tmp_path / "db" / "a.sqlite3")
    yield s
    s.close()


def count(store: EventStore) -> int:
    return store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def ids(events: list[Event]) -> list[str]:
    return [e.id for e in events]


def test_append_returns_only_new_events(store: EventStore) -> None:
    e1, e2 = post("a", 1, 1), post("a", 2, 2)
    assert store.append([e1, e2]) == Stored([e1, e2], {})
    assert store.append([e1, e2]) == Stored([], {})
    e3 = post("a", 3, 3)
    assert store.append([e2, e3, e1]).fresh == [e3]
    assert count(store) == 3


def test_same_id_with_other_content_is_still_a_duplicate(store: EventStore) -> None:
    store.append([post("a", 1, 1, message="first")])
    assert store.append([post("a", 1, 9, message="imposter")]) == Stored([], {})
    assert store.channel_history("general", 10, None)[0].message == "first"


@pytest.mark.parametrize(
    "bad",
    [
        dataclasses.replace(post("a", 1, 1), timestamp=math.nan),
        dataclasses.replace(post("a", 1, 1), timestamp=-math.inf),
        dataclasses.replace(post("a", 1, 1), clock=2**63),
        dataclasses.replace(post("a", 1, 1), clock=0),
        dataclasses.replace(post("a", 1, 1), op="drop"),
    ],
    ids=["nan-timestamp", "infinite-timestamp", "huge-clock", "zero-clock", "unknown-op"],
)
def test_an_invalid_event_is_refused_and_said_so_never_dropped_silently(
    store: EventStore, bad: Event
) -> None:
    assert store.append([bad]) == Stored([], {bad: INVALID})
    assert store.heads() == {} and count(store) == 0


def test_an_event_past_a_gap_is_refused(store: EventStore) -> None:
    store.append([post("a", 1, 1)])
    late = post("a", 3, 3)
    assert store.append([late, post("b", 1, 2)]) == Stored(
        [post("b", 1, 2)], {late: OUT_OF_SEQUENCE}
    )
    assert store.heads() == {"a": 1, "b": 1}


def test_a_constraint_violation_fails_the_whole_append_loudly(store: EventStore) -> None:
    store.append([post("a", 1, 1)])
    broken = Event("a", 3, 3, "login", user=None)  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.append([post("a", 2, 2), broken])
    assert store.heads() == {"a": 1} and count(store) == 1  # rolled back, heads unmoved
    assert store.append([post("a", 2, 2)]).fresh == [post("a", 2, 2)]


def test_a_full_database_fails_the_append_and_takes_writes_again_once_the_cap_is_lifted(
    tmp_path: Path,
) -> None:
    store = EventStore(tmp_path / "capped.sqlite3", max_db_mb=0.1)
    seq = 0
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for seq in range(1, 100):  # ends at the seq refused
            store.append([post("a", seq, seq, message=BIG)])
    assert store.heads() == {"a": seq - 1}
    assert count(store) == seq - 1
    store.limit(0)
    last = post("a", seq, seq, message=BIG)
    assert store.append([last]).fresh == [last]
    assert store.heads() == {"a": seq}
    store.close()


def test_events_round_trip_unchanged(store: EventStore) -> None:
    events = [
        Event("a", 1, 1, "login", user="ana", timestamp=1.5),
        Event("a", 2, 2, "channel", user="ana", channel="general", timestamp=2.5),
        post("b", 1, 3),
        dm("b", 2, 4, "ana", "bob"),
    ]
    store.append(events)
    assert sorted(store.since({}, 100)[0], key=history_order) == events


def test_heads_are_the_highest_seq_per_origin(store: EventStore) -> None:
    assert store.heads() == {}
    store.append([post("a", 1, 1), post("a", 2, 2), post("b", 1, 1)])
    assert store.heads() == {"a": 2, "b": 1}


def test_heads_of_a_store_with_holes_are_the_contiguous_prefix(tmp_path: Path) -> None:
    # A store written before heads were contiguous (INSERT OR IGNORE dropped a:3 and b:1).
    path = tmp_path / "old.sqlite3"
    old = EventStore(path)
    for e in [post("a", 1, 1), post("a", 2, 2), post("a", 4, 4), post("a", 5, 5), post("b", 2, 6)]:
        old._insert(e)
    old.close()
    store = EventStore(path)
    assert store.heads() == {"a": 2, "b": 0}
    assert ids(store.since({}, 100)[0]) == ["a:1", "a:2"]  # only what it holds in sequence
    refetched = [post("a", 3, 3), post("a", 4, 4), post("a", 5, 5), post("b", 1, 7)]
    assert ids(store.append(refetched).fresh) == ["a:3", "b:1"]
    assert store.heads() == {"a": 5, "b": 1}
    store.close()


def test_users_and_channels_are_derived_from_events(store: EventStore) -> None:
    store.append(
        [
            Event("a", 1, 1, "login", user="zoe"),
            Event("a", 2, 2, "channel", user="", channel="news"),
            post("a", 3, 3, channel="news", user="ana"),
            dm("a", 4, 4, "bob", "zoe"),
        ]
    )
    assert store.users() == ["ana", "bob", "zoe"]
    assert store.channels() == ["news"]


def test_since_returns_what_the_holder_lacks_per_origin_in_order(store: EventStore) -> None:
    store.append(
        [post("b", 1, 2), post("a", 1, 1), post("b", 2, 5), post("a", 2, 3), post("a", 3, 9)]
    )
    assert ids(store.since({"a": 1, "b": 2}, 100)[0]) == ["a:2", "a:3"]
    assert ids(store.since({"a": 3}, 100)[0]) == ["b:1", "b:2"]
    assert store.since({"a": 3, "b": 2}, 100) == ([], False)


def test_since_respects_the_limit(store: EventStore) -> None:
    store.append([post("a", s, s) for s in range(1, 6)] + [post("b", s, s) for s in (1, 2)])
    assert ids(store.since({}, 3)[0]) == ["a:1", "a:2", "a:3"]
    assert ids(store.since({}, 6)[0]) == ["a:1", "a:2", "a:3", "a:4", "a:5", "b:1"]
    assert store.since({"a": 4}, 2) == ([post("a", 5, 5), post("b", 1, 1)], True)
    assert store.since({"a": 4}, 3)[1] is False


def test_since_pages_cover_everything_once(store: EventStore) -> None:
    store.append([post(o, s, s) for o in "abc" for s in range(1, 8)])
    assert_pages_cover(store, {f"{o}:{s}" for o in "abc" for s in range(1, 8)}, limit=4)


def assert_pages_cover(store: EventStore, expected: set[str], limit: int) -> None:
    heads: dict[str, int] = {}
    seen: list[str] = []
    more = True
    while more:
        page, more = store.since(heads, limit)
        assert sum(map(wire_size, page)) <= PAGE_BYTES
        seen += ids(page)
        for e in page:
            heads[e.origin] = max(heads.get(e.origin, 0), e.seq)
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))


def test_a_sync_page_of_the_largest_messages_stays_within_the_byte_budget(
    store: EventStore,
) -> None:
    store.append([post(o, s, s, message=BIG) for o in "ab" for s in range(1, 31)])
    page, more = store.since({}, 5000)
    assert more and 0 < sum(map(wire_size, page)) <= PAGE_BYTES
    assert_pages_cover(store, {f"{o}:{s}" for o in "ab" for s in range(1, 31)}, limit=5000)


def test_channel_history_is_ordered_by_clock_origin_seq(store: EventStore) -> None:
    events = [
        post("b", 1, 5),
        post("a", 2, 5),
        post("a", 1, 2),
        post("c", 1, 9),
        post("b", 2, 7),
        post("a", 3, 5),
    ]
    store.append(sorted(events, key=lambda e: (e.origin, e.seq)))  # each origin in sequence
    store.append([post("a", 4, 6, channel="other")])
    history = store.channel_history("general", 50, None)
    assert ids(history) == ["a:1", "a:2", "a:3", "b:1", "b:2", "c:1"]
    assert history == sorted(events, key=history_order)


def test_history_order_does_not_depend_on_arrival_order(tmp_path: Path) -> None:
    events = [
        post(o, s, c)
        for o, s, c in [("a", 1, 3), ("b", 1, 3), ("c", 1, 1), ("a", 2, 4), ("b", 2, 8)]
    ]
    one, two = EventStore(tmp_path / "1.db"), EventStore(tmp_path / "2.db")
    one.append(events)
    for e in [e for origin in "cba" for e in events if e.origin == origin]:
        two.append([e])
    assert one.channel_history("general", 50, None) == two.channel_history("general", 50, None)
    one.close()
    two.close()


def test_history_limit_keeps_the_newest_oldest_first(store: EventStore) -> None:
    store.append([post("a", s, s * 10) for s in range(1, 11)])
    assert [e.clock for e in store.channel_history("general", 3, None)] == [80, 90, 100]


def test_history_before_clock_pages_backwards(store: EventStore) -> None:
    store.append([post("a", s, s * 10) for s in range(1, 11)])
    assert [e.clock for e in store.channel_history("general", 3, 80)] == [50, 60, 70]
    assert [e.clock for e in store.channel_history("general", 3, 20)] == [10]
    assert store.channel_history("general", 3, 10) == []


def test_paging_by_before_clock_reaches_every_entry_even_with_clock_ties(store: EventStore) -> None:
    # Lamport clocks of concurrent posts on different servers tie; the shared order breaks the
    # tie by origin. Paging backwards with before_clock = the oldest clock of the page received
    # must still reach every entry of the channel.
    events = [post("a", 1, 1), post("a", 2, 2), post("b", 1, 2), post("a", 3, 3)]
    store.append(events)
    page = store.channel_history("general", 2, None)
    collected = list(page)
    while page:
        page = store.channel_history("general", 2, page[0].clock)
        collected = page + collected
    assert ids(collected) == ids(sorted(events, key=history_order))


def test_a_page_grows_rather_than_split_a_clock_tie(store: EventStore) -> None:
    store.append([post("a", 1, 1), post("b", 1, 2), post("a", 2, 2), post("a", 3, 3)])
    assert ids(store.channel_history("general", 2, None)) == ["a:2", "b:1", "a:3"]
    assert ids(store.channel_history("general", 2, 2)) == ["a:1"]


def test_a_history_page_of_the_largest_messages_fits_in_a_frame(store: EventStore) -> None:
    store.append([post("a", s, s, message=BIG) for s in range(1, 61)])
    page = store.channel_history("general", 1000, None)
    reply = protocol.history_reply(page)
    assert 1 < len(page) < 60 and encoded_size(reply) < MAX_FRAME_BYTES
    assert [e.seq for e in page] == list(range(61 - len(page), 61))  # the newest, oldest first
    collected = list(page)
    while page:
        page = store.channel_history("general", 1000, page[0].clock)
        collected = page + collected
    assert [e.seq for e in collected] == list(range(1, 61))


def test_a_byte_bounded_history_page_still_keeps_a_clock_tie_whole(store: EventStore) -> None:
    store.append([post(o, 1, 7, message=BIG) for o in "abcde"] + [post("a", 2, 8)])
    page = store.channel_history("general", 1000, None, budget=3 * encoded_size(BIG))
    assert ids(page) == ["a:1", "b:1", "c:1", "d:1", "e:1", "a:2"]


def test_private_history_is_the_conversation_both_ways(store: EventStore) -> None:
    store.append(
        [
            dm("a", 1, 1, "ana", "bob"),
            dm("b", 1, 2, "bob", "ana"),
            dm("a", 2, 3, "ana", "carl"),
            dm("a", 3, 4, "bob", "carl"),
            post("a", 4, 5, user="ana"),
        ]
    )
    history = store.private_history("bob", "ana", 50, None)
    assert ids(history) == ["a:1", "b:1"]
    assert history == store.private_history("ana", "bob", 50, None)
    assert ids(store.private_history("ana", "bob", 50, 2)) == ["a:1"]
    assert store.private_history("ana", "zed", 50, None) == []


def test_channel_history_of_another_channel_is_separate(store: EventStore) -> None:
    store.append([post("a", 1, 1, channel="x"), post("a", 2, 2, channel="y")])
    assert ids(store.channel_history("x", 50, None)) == ["a:1"]
    assert ids(store.channel_history("y", 50, None)) == ["a:2"]
    assert store.channel_history("z", 50, None) == []


def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "node" / "a.sqlite3"
    first = EventStore(path)
    events = [
        Event("a", 1, 1, "login", user="ana"),
        Event("a", 2, 2, "channel", user="ana", channel="general"),
        post("a", 3, 3),
        dm("b", 1, 4, "bob", "ana"),
    ]
    first.append(events)
    first.close()
    again = EventStore(path)
    try:
        assert again.heads() == {"a": 3, "b": 1}
        assert again.users() == ["ana", "bob"]
        assert again.channels() == ["general"]
        assert ids(again.channel_history("general", 50, None)) == ["a:3"]
        assert ids(again.private_history("ana", "bob", 50, None)) == ["b:1"]
        assert again.append(events) == Stored([], {})
    finally:
        again.close()


def test_in_memory_store_works(tmp_path: Path) -> None:
    store = EventStore(":memory:")
    store.append([post("a", 1, 1)])
    assert store.heads() == {"a": 1}
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_a_request_stored_by_two_replicas_shows_once_the_same_copy_everywhere(
    tmp_path: Path,
) -> None:
    first = Event("b", 1, 5, Operation.PUBLISH, "ana", "general", "", "hi", 1.0, "r1")
    resend = Event("a", 1, 9, Operation.PUBLISH, "ana", "general", "", "hi", 2.0, "r1")
    other = Event("a", 2, 10, Operation.PUBLISH, "ana", "general", "", "hi", 3.0, "r2")
    orders = ([first, resend, other], [resend, first, other])
    shown = []
    for n, order in enumerate(orders):  # two replicas that received them in either order
        store = EventStore(tmp_path / f"{n}.sqlite3")
        for event in order:
            store.append([event])
        shown.append(store.channel_history("general", 50, None))
        assert count(store) == 3  # all stored: the logs stay contiguous
        store.close()
    assert shown[0] == shown[1] == [first, other]
