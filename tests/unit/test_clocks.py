"""The Lamport clock's merge is bounded; the adjusted clock's offset too."""

from __future__ import annotations

from config.clocks import MAX_JUMP, LamportClock


def test_merge_takes_the_larger_clock() -> None:
    clock = LamportClock(10)
    assert clock.merge(5) == 10
    assert clock.merge(12) == 12
    assert clock.tick() == 13


def test_a_received_clock_too_far_ahead_is_ignored_but_a_long_honest_one_is_taken() -> None:
    clock = LamportClock(100)
    assert clock.merge(100 + MAX_JUMP + 1) == 100  # one forged message moves nothing
    assert clock.merge(100 + MAX_JUMP) == 100 + MAX_JUMP  # a replica far behind catches up
