"""Replication bookkeeping: contiguous acceptance and when an origin may acknowledge a write."""

from __future__ import annotations

import pytest

from actors.replication_log import AckTracker, ReplicaHeads
from transport.protocol import Event


def ev(origin: str, seq: int) -> Event:
    return Event(origin, seq, seq, "login", user=f"u{seq}")


def seqs(events: list[Event]) -> list[tuple[str, int]]:
    return [(e.origin, e.seq) for e in events]


# ---- ReplicaHeads -------------------------------------------------------------------------


def test_contiguous_events_are_taken_in_order_even_if_they_arrive_shuffled() -> None:
    heads = ReplicaHeads()
    take, gaps = heads.accept([ev("b", 3), ev("b", 1), ev("a", 1), ev("b", 2)])
    assert seqs(take) == [("a", 1), ("b", 1), ("b", 2), ("b", 3)]
    assert gaps == set()
    assert heads.claimed == {"a": 1, "b": 3}


def test_a_gap_is_reported_and_nothing_past_it_is_taken() -> None:
    heads = ReplicaHeads({"b": 1})
    take, gaps = heads.accept([ev("b", 2), ev("b", 4), ev("b", 5)])
    assert seqs(take) == [("b", 2)]
    assert gaps == {"b"}
    assert heads.claimed == {"b": 2}
    take, gaps = heads.accept([ev("b", 3), ev("b", 4)])
    assert seqs(take) == [("b", 3), ("b", 4)]
    assert gaps == set()


def test_an_event_far_ahead_of_an_empty_replica_is_a_gap() -> None:
    heads = ReplicaHeads()
    assert heads.accept([ev("c", 7)]) == ([], {"c"})
    assert heads.claimed == {}


def test_duplicates_are_ignored_silently() -> None:
    heads = ReplicaHeads()
    heads.accept([ev("a", 1), ev("a", 2)])
    assert heads.accept([ev("a", 1), ev("a", 2)]) == ([], set())
    assert heads.accept([ev("a", 2), ev("a", 2), ev("a", 3)])[0] == [ev("a", 3)]


def test_origins_are_independent() -> None:
    heads = ReplicaHeads({"a": 5})
    take, gaps = heads.accept([ev("a", 6), ev("b", 2), ev("c", 1)])
    assert seqs(take) == [("a", 6), ("c", 1)]
    assert gaps == {"b"}


def test_next_seq_claims_the_local_origin() -> None:
    heads = ReplicaHeads({"me": 3})
    assert [heads.next_seq("me"), heads.next_seq("me")] == [4, 5]
    assert heads.accept([ev("me", 5)]) == ([], set())  # already claimed: a duplicate
    assert heads.accept([ev("me", 6)])[0] == [ev("me", 6)]


def test_released_events_are_claimed_again() -> None:
    heads = ReplicaHeads()
    heads.accept([ev("b", 1), ev("b", 2), ev("b", 3), ev("c", 1)])
    heads.release([ev("b", 3), ev("b", 2)])
    assert heads.claimed == {"b": 1, "c": 1}
    assert seqs(heads.accept([ev("b", 2), ev("b", 3)])[0]) == [("b", 2), ("b", 3)]


def test_releasing_what_was_released_already_claims_nothing_new() -> None:
    heads = ReplicaHeads({"b": 1})
    heads.release([ev("b", 5)])
    assert heads.claimed == {"b": 1}


def test_a_released_local_seq_is_issued_again() -> None:
    heads = ReplicaHeads({"me": 3})
    assert [heads.next_seq("me"), heads.next_seq("me")] == [4, 5]
    heads.release([ev("me", 4)])
    assert heads.next_seq("me") == 4


# ---- AckTracker ---------------------------------------------------------------------------

TIMEOUT = 1.0


def tracker(*live: str) -> AckTracker:
    t = AckTracker(timeout=TIMEOUT)
    t.set_live(live)
    return t


def write(t: AckTracker, seq: int, now: float = 0.0, durable: bool = True) -> None:
    t.add(f"token{seq}", ev("me", seq), now)
    if durable:
        t.durable(seq, at=1000.0 + seq)


def acked(t: AckTracker, now: float) -> list[tuple[object, int, bool]]:
    done, _ = t.ready(now)
    return [(a.token, a.copies, a.degraded) for a in done]


def test_nothing_is_acknowledged_before_it_is_durable_here() -> None:
    t = tracker("b")
    write(t, 1, durable=False)
    t.peer_applied("b", 1, now=0.0)
    assert acked(t, now=5.0) == []
    t.durable(1, at=1000.0)
    assert acked(t, now=5.0) == [("token1", 2, False)]


def test_an_acknowledgement_says_since_when_the_write_is_durable_here() -> None:
    t = tracker()
    write(t, 1, durable=False)
    t.durable(1, at=1234.5)
    t.durable(7, at=1300.0)  # not pending: ignored
    [ack] = t.ready(now=0.0)[0]
    assert ack.durable_at == 1234.5


def test_waits_for_every_healthy_live_peer() -> None:
    t = tracker("b", "c")
    write(t, 1)
    t.peer_applied("b", 1, now=0.0)
    assert acked(t, now=0.5) == []
    t.peer_applied("c", 1, now=0.0)
    assert acked(t, now=0.5) == [("token1", 3, False)]
    assert acked(t, now=0.6) == []  # acknowledged once


def test_a_peer_head_covers_every_earlier_write() -> None:
    t = tracker("b")
    for seq in (1, 2, 3):
        write(t, seq)
    t.peer_applied("b", 2, now=0.0)
    assert acked(t, now=0.1) == [("token1", 2, False), ("token2", 2, False)]
    t.peer_applied("b", 1, now=0.0)  # a late, older reply does not move the head back
    assert t.acked["b"] == 2


def test_writes_are_acknowledged_in_order() -> None:
    t = tracker()
    write(t, 1, durable=False)
    write(t, 2)
    assert acked(t, now=0.0) == []
    t.durable(1, at=1000.0)
    assert [token for token, *_ in acked(t, now=0.0)] == ["token1", "token2"]


def test_alone_a_write_is_acknowledged_degraded_at_once() -> None:
    t = tracker()
    write(t, 1)
    assert acked(t, now=0.0) == [("token1", 1, True)]


def test_after_the_timeout_one_copy_elsewhere_is_enough_and_the_rest_lag() -> None:
    t = tracker("b", "c")
    write(t, 1, now=10.0)
    t.peer_applied("b", 1, now=0.0)
    assert t.ready(10.0 + TIMEOUT - 0.01) == ([], set())
    done, lagging = t.ready(10.0 + TIMEOUT)
    assert [(a.token, a.copies, a.degraded) for a in done] == [("token1", 2, False)]
    assert lagging == {"c"}
    assert t.healthy() == {"b"}


def test_after_the_timeout_with_no_copy_elsewhere_the_write_is_degraded() -> None:
    t = tracker("b", "c")
    write(t, 1, now=0.0)
    done, lagging = t.ready(TIMEOUT)
    assert [(a.copies, a.degraded) for a in done] == [(1, True)]
    assert lagging == {"b", "c"}
    assert t.healthy() == set()


def test_lagging_peers_are_not_waited_for() -> None:
    t = tracker("b", "c")
    write(t, 1, now=0.0)
    t.peer_applied("b", 1, now=0.0)
    t.ready(TIMEOUT)  # c is now lagging
    write(t, 2, now=2.0)
    t.peer_applied("b", 2, now=0.0)
    assert acked(t, now=2.0) == [("token2", 2, False)]


def test_lagging_peer_is_readmitted_once_it_has_every_acknowledged_write() -> None:
    t = tracker("b", "c")
    write(t, 1, now=0.0)
    write(t, 2, now=0.0)
    t.peer_applied("b", 2, now=0.0)
    t.ready(TIMEOUT)
    assert t.lagging == {"c"} and t.last_acknowledged == 2
    t.peer_applied("c", 1, now=0.0)
    assert t.lagging == {"c"}  # still behind
    t.peer_applied("c", 2, now=0.0)
    assert t.lagging == set()
    write(t, 3, now=5.0)
    t.peer_applied("b", 3, now=0.0)
    assert acked(t, now=5.0) == []  # c is waited for again
    t.peer_applied("c", 3, now=0.0)
    assert acked(t, now=5.0) == [("token3", 3, False)]


def test_peers_that_leave_are_not_waited_for_nor_counted() -> None:
    t = tracker("b", "c")
    write(t, 1)
    t.peer_applied("c", 1, now=0.0)
    t.set_live(["b"])  # c left
    assert acked(t, now=0.0) == []  # b is still missing
    t.peer_applied("b", 1, now=0.0)
    assert acked(t, now=0.0) == [("token1", 2, False)]


def test_a_peer_leaving_clears_its_lagging_mark() -> None:
    t = tracker("b")
    write(t, 1)
    t.ready(TIMEOUT)
    assert t.lagging == {"b"}
    t.set_live([])
    assert t.lagging == set()


@pytest.mark.parametrize(
    ("live", "heads", "expected"),
    [
        ((), {}, 0),
        (("b", "c"), {"b": 4, "c": 2}, 2),
        (("b", "c"), {"b": 4}, 0),
    ],
)
def test_min_acked(live: tuple[str, ...], heads: dict[str, int], expected: int) -> None:
    t = tracker(*live)
    for peer, head in heads.items():
        t.peer_applied(peer, head, now=0.0)
    assert t.min_acked() == expected


def test_a_failed_write_and_every_later_one_are_dropped() -> None:
    t = tracker("b")
    for seq in (1, 2, 3, 4):
        write(t, seq, durable=seq == 1)
    dropped = t.fail([ev("me", 3), ev("me", 2)])
    assert [(p.token, p.event.seq) for p in dropped] == [
        ("token2", 2),
        ("token3", 3),
        ("token4", 4),
    ]
    assert list(t.pending) == [1]


def test_a_late_notice_about_a_dropped_write_spares_the_newer_write_with_its_seq() -> None:
    t = tracker()
    write(t, 1, durable=False)
    write(t, 2, durable=False)
    t.fail([ev("me", 1)])
    newer = Event("me", 1, 99, "login", user="newer")
    t.add("newer", newer, 0.0)
    assert t.fail([ev("me", 2)]) == []  # seq 2's own notice, after it was dropped
    assert t.fail([ev("me", 1)]) == []  # the old seq 1: not the write now pending as 1
    assert t.pending[1].event == newer


def test_min_acked_without_peers_is_the_last_acknowledged() -> None:
    t = tracker()
    write(t, 1)
    write(t, 2)
    t.ready(0.0)
    assert t.min_acked() == 2


def test_a_slow_peer_that_still_answers_is_waited_for_and_the_chat_told_to_shed() -> None:
    t = tracker("b", "c")
    write(t, 1, now=0.0)
    t.peer_applied("b", 1, now=0.1)
    assert not t.behind(now=0.4)
    t.peer_applied("c", 0, now=0.45)  # c answers (an older push): alive, just slow
    assert t.behind(now=TIMEOUT / 2 + 0.01)  # shed new writes meanwhile
    assert t.ready(TIMEOUT + 0.1) == ([], set())  # not left out at the silent timeout
    t.peer_applied("c", 1, now=1.2)
    assert acked(t, now=1.2) == [("token1", 3, False)]  # every copy, as promised
    assert not t.behind(now=1.2)


def test_a_slow_peer_is_left_out_after_half_as_long_again() -> None:
    t = tracker("b", "c")
    write(t, 1, now=0.0)
    t.peer_applied("b", 1, now=0.1)
    t.peer_applied("c", 0, now=1.4)  # answering, never catching up
    done, lagging = t.ready(1.5 * TIMEOUT)
    assert [(a.copies, a.degraded) for a in done] == [(2, False)] and lagging == {"c"}


def test_a_gone_peer_does_not_make_the_chat_shed() -> None:
    t = tracker("b", "c")
    t.peer_applied("c", 0, now=0.0)  # c's last answer, then it dies
    write(t, 1, now=0.0)
    t.peer_applied("b", 1, now=0.1)
    assert not t.behind(now=TIMEOUT / 2 + 0.01)  # silent for more than a quarter timeout
    done, lagging = t.ready(TIMEOUT)
    assert [a.copies for a in done] == [2] and lagging == {"c"}
