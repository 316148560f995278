"""Lazy Pirate: each timeout costs a retry until none is left."""

from __future__ import annotations

from transport.lazy_pirate import LazyPirate, Verdict


def test_waits_until_the_deadline() -> None:
    pirate = LazyPirate(timeout=2.5, retries=3, sent_at=100.0)
    assert pirate.deadline == 102.5
    assert pirate.check(100.0) is Verdict.WAIT
    assert pirate.check(102.49) is Verdict.WAIT
    assert pirate.attempts == 1


def test_resends_exactly_retries_times_then_gives_up() -> None:
    pirate = LazyPirate(timeout=1.0, retries=3, sent_at=0.0)
    now, verdicts = 0.0, []
    while not verdicts or verdicts[-1] is not Verdict.GIVE_UP:
        now += 1.0
        verdicts.append(pirate.check(now))
    assert verdicts == [Verdict.RESEND] * 3 + [Verdict.GIVE_UP]
    assert pirate.attempts == 4  # the first send plus three retries


def test_a_resend_restarts_the_timeout_from_the_resend() -> None:
    pirate = LazyPirate(timeout=1.0, retries=1, sent_at=0.0)
    assert pirate.check(1.7) is Verdict.RESEND
    assert pirate.deadline == 2.7
    assert pirate.check(2.6) is Verdict.WAIT
    assert pirate.check(2.7) is Verdict.GIVE_UP


def test_no_retries_gives_up_at_the_first_timeout() -> None:
    pirate = LazyPirate(timeout=0.5, retries=0, sent_at=10.0)
    assert pirate.check(10.4) is Verdict.WAIT
    assert pirate.check(10.5) is Verdict.GIVE_UP


def test_giving_up_is_final() -> None:
    pirate = LazyPirate(timeout=1.0, retries=0, sent_at=0.0)
    assert pirate.check(5.0) is Verdict.GIVE_UP
    assert pirate.check(50.0) is Verdict.GIVE_UP
