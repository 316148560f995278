"""The SQLite event log: idempotent appends, heads, catch-up, ordered history, durability."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.event_store import EventStore
from tests.fakes import history_order
from transport.protocol import Event


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
    assert store.append([e1, e2]) == [e1, e2]
    assert store.append([e1, e2]) == []
    e3 = post("a", 3, 3)
    assert store.append([e2, e3, e1]) == [e3]
    assert count(store) == 3


def test_same_id_with_other_content_is_still_a_duplicate(store: EventStore) -> None:
    store.append([post("a", 1, 1, message="first")])
    assert store.append([post("a", 1, 9, message="imposter")]) == []
    assert store.channel_history("general", 10, None)[0].message == "first"


def test_events_round_trip_unchanged(store: EventStore) -> None:
    events = [
        Event("a", 1, 1, "login", user="ana", timestamp=1.5),
        Event("a", 2, 2, "channel", user="ana", channel="general", timestamp=2.5),
        post("b", 1, 3),
        dm("b", 2, 4, "ana", "bob"),
    ]
    store.append(events)
    assert sorted(store.since({}, 100), key=history_order) == events


def test_heads_are_the_highest_seq_per_origin(store: EventStore) -> None:
    assert store.heads() == {}
    store.append([post("a", 1, 1), post("a", 2, 2), post("b", 1, 1)])
    assert store.heads() == {"a": 2, "b": 1}


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
        [post("b", 2, 5), post("a", 1, 1), post("b", 1, 2), post("a", 2, 3), post("a", 3, 9)]
    )
    assert ids(store.since({"a": 1, "b": 2}, 100)) == ["a:2", "a:3"]
    assert ids(store.since({"a": 3}, 100)) == ["b:1", "b:2"]
    assert store.since({"a": 3, "b": 2}, 100) == []


def test_since_respects_the_limit(store: EventStore) -> None:
    store.append([post("a", s, s) for s in range(1, 6)] + [post("b", s, s) for s in (1, 2)])
    assert ids(store.since({}, 3)) == ["a:1", "a:2", "a:3"]
    assert ids(store.since({}, 6)) == ["a:1", "a:2", "a:3", "a:4", "a:5", "b:1"]
    assert ids(store.since({"a": 4}, 2)) == ["a:5", "b:1"]


def test_since_pages_cover_everything_once(store: EventStore) -> None:
    store.append([post(o, s, s) for o in "abc" for s in range(1, 8)])
    heads: dict[str, int] = {}
    seen: list[str] = []
    while page := store.since(heads, 4):
        seen += ids(page)
        for e in page:
            heads[e.origin] = max(heads.get(e.origin, 0), e.seq)
    assert sorted(seen) == sorted(f"{o}:{s}" for o in "abc" for s in range(1, 8))
    assert len(seen) == len(set(seen))


def test_channel_history_is_ordered_by_clock_origin_seq(store: EventStore) -> None:
    events = [
        post("b", 1, 5),
        post("a", 2, 5),
        post("a", 1, 2),
        post("c", 1, 9),
        post("b", 2, 7),
        post("a", 3, 5),
    ]
    store.append(events)
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
    for e in reversed(events):
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
        assert again.append(events) == []
    finally:
        again.close()


def test_in_memory_store_works(tmp_path: Path) -> None:
    store = EventStore(":memory:")
    store.append([post("a", 1, 1)])
    assert store.heads() == {"a": 1}
    store.close()
    assert list(tmp_path.iterdir()) == []
