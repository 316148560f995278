"""Per-name back-off of wrong passwords."""

from __future__ import annotations

from actors.backoff import Backoff


def test_each_wrong_password_doubles_the_wait_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.failed("ana", 100.0) for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff.wait("ana", 100.0) == 8.0
    assert backoff.wait("ana", 105.0) == 3.0
    assert backoff.wait("ana", 200.0) == 0.0
    assert backoff.wait("bob", 100.0) == 0.0  # per name


def test_a_right_password_clears_the_count() -> None:
    backoff = Backoff()
    backoff.failed("ana", 0.0)
    backoff.failed("ana", 0.0)
    backoff.succeeded("ana")
    assert backoff.wait("ana", 0.0) == 0.0
    assert backoff.failed("ana", 0.0) == 1.0


def test_memory_is_bounded_forgetting_the_oldest_failure() -> None:
    backoff = Backoff(max_names=3)
    for name in ("a", "b", "c", "d"):
        backoff.failed(name, 0.0)
    assert len(backoff) == 3
    assert backoff.wait("a", 0.5) == 0.0 and backoff.wait("d", 0.5) > 0
