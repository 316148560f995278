"""CatchUp: rounds of pulls, their count and duration, and the callbacks waiting for them."""

from __future__ import annotations

from collections.abc import Callable

from actors.catch_up import CatchUp, NextPage, RoundDone


def recorder(calls: list[str], name: str) -> Callable[[], None]:
    return lambda: calls.append(name)


def run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


# ---- pulls and rounds ---------------------------------------------------------------------


def test_a_pull_starts_once_per_peer() -> None:
    c = CatchUp()
    assert not c.running
    assert c.pull("b", now=1.0)
    assert not c.pull("b", now=2.0)  # already pulling from b
    assert c.pull("c", now=3.0)
    assert c.running and c.pulling == {"b", "c"}


def test_a_peer_with_more_is_asked_for_its_next_page() -> None:
    c = CatchUp()
    c.pull("b", now=0.0)
    assert c.page_done("b", 100, more=True, now=1.0) == NextPage("b")
    assert c.pulling == {"b"}


def test_the_round_ends_with_its_last_pull_and_reports_events_and_duration() -> None:
    c = CatchUp()
    c.pull("b", now=10.0)
    c.pull("c", now=11.0)
    assert c.page_done("b", 3, more=True, now=12.0) == NextPage("b")
    assert c.page_done("b", 2, more=False, now=12.5) is None  # c still pulling
    assert c.page_done("c", 4, more=False, now=13.5) == RoundDone(events=9, seconds=3.5)
    assert not c.running


def test_a_round_that_found_nothing_is_not_reported() -> None:
    c = CatchUp()
    c.pull("b", now=0.0)
    assert c.page_done("b", 0, more=False, now=1.0) is None
    assert not c.running


def test_each_round_counts_and_times_its_own_pulls() -> None:
    c = CatchUp()
    c.pull("b", now=0.0)
    assert c.page_done("b", 5, more=False, now=2.0) == RoundDone(5, 2.0)
    c.pull("b", now=100.0)
    assert c.page_done("b", 1, more=False, now=100.25) == RoundDone(1, 0.25)


def test_a_pull_joining_a_running_round_does_not_restart_its_clock() -> None:
    c = CatchUp()
    c.pull("b", now=0.0)
    c.pull("c", now=4.0)
    c.page_done("b", 1, more=False, now=5.0)
    assert c.page_done("c", 1, more=False, now=6.0) == RoundDone(2, 6.0)


# ---- waiting callbacks --------------------------------------------------------------------


def test_with_nothing_running_a_waiting_callback_is_released_at_once() -> None:
    c = CatchUp()
    calls: list[str] = []
    c.wait(recorder(calls, "retry"))
    run(c.release())
    assert calls == ["retry"]
    assert c.release() == []  # released once


def test_callbacks_wait_for_every_pull_of_the_round() -> None:
    c = CatchUp()
    calls: list[str] = []
    c.pull("b", now=0.0)
    c.pull("c", now=0.0)
    c.wait(recorder(calls, "first"))
    c.wait(recorder(calls, "second"))
    c.page_done("b", 0, more=False, now=1.0)
    assert c.release() == []
    c.page_done("c", 0, more=False, now=1.0)
    run(c.release())
    assert calls == ["first", "second"]


def test_callbacks_wait_for_every_batch_on_its_way_to_disk() -> None:
    c = CatchUp()
    calls: list[str] = []
    c.storing()  # e.g. a push being stored
    c.pull("b", now=0.0)
    c.storing()  # a page from b
    c.page_done("b", 1, more=False, now=1.0)
    c.wait(recorder(calls, "retry"))
    assert c.release() == []
    c.stored()
    assert c.release() == []
    c.stored()
    run(c.release())
    assert calls == ["retry"]


def test_a_page_in_flight_keeps_callbacks_waiting_even_with_nothing_on_disk() -> None:
    c = CatchUp()
    c.pull("b", now=0.0)
    c.wait(lambda: None)
    assert c.page_done("b", 2, more=True, now=1.0) == NextPage("b")
    assert c.release() == []
