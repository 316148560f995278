"""Outbox: what the origin pushes to each peer, one push in flight per peer, and what it keeps."""

from __future__ import annotations

from actors.outbox import OUTBOX_BYTES, OUTBOX_LIMIT, PUSH_BATCH, Outbox
from actors.pages import PAGE_BYTES, encoded_size
from transport import protocol
from transport.codec import MAX_FRAME_BYTES
from transport.fields import MAX_MESSAGE_CHARS
from transport.protocol import Event


def filled(
    last: int, batch: int = PUSH_BATCH, limit: int = OUTBOX_LIMIT, message: str = ""
) -> Outbox:
    outbox = Outbox(batch=batch, limit=limit)
    for seq in range(1, last + 1):
        outbox.add(Event("me", seq, seq, "publish", user=f"u{seq}", channel="c", message=message))
    return outbox


def seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


def test_defaults_are_the_protocol_bounds() -> None:
    outbox = Outbox()
    assert (outbox.batch, outbox.budget) == (PUSH_BATCH, PAGE_BYTES)
    assert (outbox.limit, outbox.max_bytes) == (OUTBOX_LIMIT, OUTBOX_BYTES)
    assert len(outbox) == 0


def test_an_empty_outbox_pushes_nothing_and_marks_nothing_in_flight() -> None:
    outbox = Outbox()
    assert outbox.next_push("b", 0) == []
    assert outbox.in_flight == set()


def test_a_push_carries_what_the_peer_lacks_in_order() -> None:
    outbox = filled(5)
    assert seqs(outbox.next_push("b", 2)) == [3, 4, 5]
    assert seqs(outbox.next_push("c", 0)) == [1, 2, 3, 4, 5]


def test_a_push_holds_at_most_one_batch_of_the_oldest_events() -> None:
    outbox = filled(7, batch=3)
    assert seqs(outbox.next_push("b", 1)) == [2, 3, 4]


def test_a_push_of_the_largest_messages_stays_well_within_a_frame() -> None:
    outbox = filled(100, message="\U0001f642" * MAX_MESSAGE_CHARS)  # 40 KB each
    push = outbox.next_push("b", 0)
    data = protocol.push_request(push, "me")
    assert seqs(push) == list(range(1, len(push) + 1))
    assert 1 < len(push) < 100 and encoded_size(data) <= PAGE_BYTES < MAX_FRAME_BYTES
    outbox.answered("b")
    assert seqs(outbox.next_push("b", len(push)))[0] == len(push) + 1


def test_one_event_larger_than_the_budget_still_goes_alone() -> None:
    outbox = Outbox(budget=10)
    outbox.add(Event("me", 1, 1, "publish", user="u", channel="c", message="x" * 100))
    outbox.add(Event("me", 2, 2, "publish", user="u", channel="c", message="y"))
    assert seqs(outbox.next_push("b", 0)) == [1]


def test_only_one_push_per_peer_is_in_flight() -> None:
    outbox = filled(2)
    assert seqs(outbox.next_push("b", 0)) == [1, 2]
    outbox.add(Event("me", 3, 3, "publish", user="u3", channel="c"))
    assert outbox.next_push("b", 0) == []  # b's push is still out
    assert seqs(outbox.next_push("c", 0)) == [1, 2, 3]  # other peers are independent
    assert outbox.in_flight == {"b", "c"}


def test_once_answered_the_next_push_starts_from_the_new_head() -> None:
    outbox = filled(5, batch=2)
    assert seqs(outbox.next_push("b", 0)) == [1, 2]
    outbox.answered("b")
    assert seqs(outbox.next_push("b", 2)) == [3, 4]


def test_a_failed_push_is_sent_again_from_the_same_head() -> None:
    outbox = filled(2)
    first = outbox.next_push("b", 0)
    outbox.answered("b")  # the call failed: the peer's head did not move
    assert outbox.next_push("b", 0) == first


def test_a_peer_that_has_everything_gets_no_push_and_nothing_stays_in_flight() -> None:
    outbox = filled(3)
    assert outbox.next_push("b", 3) == []
    assert outbox.in_flight == set()


def test_a_peer_that_refused_a_push_rests_until_the_given_time() -> None:
    outbox = filled(2)
    first = outbox.next_push("b", 0, now=10.0)
    outbox.answered("b", rest_until=10.5)
    assert outbox.next_push("b", 0, now=10.4) == []
    assert seqs(outbox.next_push("c", 0, now=10.4)) == [1, 2]  # others are not held back
    assert outbox.next_push("b", 0, now=10.5) == first
    outbox.answered("b")
    assert outbox.next_push("b", 0, now=0.0) == first  # answered: no rest any more


def test_answering_a_peer_without_a_push_is_harmless() -> None:
    outbox = filled(1)
    outbox.answered("b")
    assert seqs(outbox.next_push("b", 0)) == [1]


def test_trim_forgets_what_every_live_peer_applied() -> None:
    outbox = filled(5)
    outbox.trim(3)
    assert len(outbox) == 2
    assert seqs(outbox.next_push("b", 0)) == [4, 5]  # a peer further behind must sync
    outbox.trim(0)
    assert len(outbox) == 2
    outbox.trim(9)
    assert len(outbox) == 0


def test_the_oldest_events_are_dropped_past_the_limit() -> None:
    outbox = filled(5, limit=3)
    assert len(outbox) == 3
    assert seqs(outbox.next_push("b", 0)) == [3, 4, 5]


def test_the_oldest_events_are_dropped_past_the_byte_cap() -> None:
    big = "\U0001f642" * MAX_MESSAGE_CHARS
    outbox = Outbox(max_bytes=5 * len(big.encode()))
    for seq in range(1, 11):
        outbox.add(Event("me", seq, seq, "publish", user="u", channel="c", message=big))
    assert seqs(outbox.next_push("b", 0)) == [7, 8, 9, 10]  # a peer further behind syncs
    assert outbox.total_bytes == sum(outbox.sizes.values()) <= outbox.max_bytes
    outbox.trim(8)
    assert outbox.total_bytes == sum(outbox.sizes.values()) and set(outbox.sizes) == {9, 10}
