"""The invariants of `bbs logs --check` on small synthetic logs (no cluster)."""

from __future__ import annotations

from ops.invariants import Report
from tests.ops.logbook import Logbook, start_servers, stop_servers


def healthy() -> Logbook:
    book = Logbook()
    start_servers(book)
    return book


def only(report: Report, invariant: str) -> list:
    assert {v.invariant for v in report.violations} == {invariant}, report.violations
    return report.violations


def test_a_healthy_run_passes():
    book = healthy()
    book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="login")
    book.add("server-1", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-2", 1.01, 21, "events_applied", ids=["server-0:1"], via="pub")
    book.add(
        "server-1",
        1.1,
        30,
        "request_handled",
        service="publish",
        request_clock=25,
        reply_clock=30,
        latency_ms=1.0,
    )
    stop_servers(book)
    report = book.check()
    assert report.ok, report.violations
    assert report.checked["writes-replicated"] == 2


# ---- lamport-monotonic ----------------------------------------------------------------------


def test_a_lamport_clock_going_back_names_both_lines():
    book = healthy()
    high = book.add("server-0", 1.0, 50, "events_applied", ids=[])
    low = book.add("server-0", 1.1, 49, "request_handled", request_clock=1, reply_clock=49)
    stop_servers(book)
    (violation,) = only(book.check(), "lamport-monotonic")
    assert violation.lines == (high, low)
    assert "went back from 50" in violation.message


def test_a_restart_is_a_new_lifetime_not_a_decrease():
    book = healthy()
    book.add("server-0", 1.0, 50, "events_applied", ids=[])  # killed -9: no last words
    book.add("server-0", 1.2, 0, "store_opened", events=3, heads={})
    book.add("server-0", 1.3, 8, "coordinator_elected", coordinator="server-2")
    book.add("bot-0", 0.0, 40, "bot_published", role="bot")
    book.add("bot-0", 0.1, 40, "stopped", role="bot")
    book.add("bot-0", 0.2, 3, "bot_login", role="bot")  # restarted after a graceful stop
    book.add("bot-0", 0.3, 30, "bot_published", role="bot")
    book.add("bot-0", 1.0, 1, "bot_login", role="bot")  # restarted after kill -9 and silence
    stop_servers(book)
    report = book.check()
    assert report.ok, report.violations
    assert "restarts: bot-0 x2, server-0 x1" in report.notes


def test_a_drop_without_silence_or_stop_is_a_decrease():
    book = healthy()
    book.add("bot-0", 0.0, 40, "bot_published", role="bot")
    book.add("bot-0", 0.2, 1, "bot_login", role="bot")
    stop_servers(book)
    only(book.check(), "lamport-monotonic")


def test_a_lower_clock_written_after_a_higher_one_is_a_decrease():
    book = healthy()
    book.add("server-1", 1.0, 45, "events_applied", ids=[])
    book.add("server-1", 1.0005, 50, "request_handled", request_clock=3, reply_clock=50)
    book.add("server-1", 1.0002, 44, "events_applied", ids=[])
    stop_servers(book)
    (violation,) = only(book.check(), "lamport-monotonic")
    assert violation.lines == ("server-1.jsonl:4", "server-1.jsonl:5")


# ---- reply-after-request --------------------------------------------------------------------


def test_a_reply_clock_not_above_the_request_clock_is_named():
    book = healthy()
    where = book.add(
        "server-1", 1.0, 30, "request_handled", service="publish", request_clock=30, reply_clock=30
    )
    stop_servers(book)
    (violation,) = only(book.check(), "reply-after-request")
    assert violation.lines == (where,)
    assert "publish reply_clock 30 <= request_clock 30" in violation.message


# ---- single-coordinator ---------------------------------------------------------------------


def test_live_servers_ending_with_different_coordinators_fail():
    book = healthy()
    where = book.add("server-0", 2.0, 30, "coordinator_elected", coordinator="server-0")
    stop_servers(book)
    (violation,) = only(book.check(), "single-coordinator")
    assert where in violation.lines
    assert "server-0 -> server-0" in violation.message
    assert "server-1 -> server-2" in violation.message


def test_elections_during_the_final_shutdown_are_ignored():
    book = healthy()
    stop_servers(book, t=10.0)
    book.nodes["server-0"].insert(
        -1,
        book.nodes["server-0"][-1]
        | {"event": "coordinator_elected", "coordinator": "server-0", "lamport": 1000},
    )
    assert book.check().ok


def test_naming_a_coordinator_that_died_fails():
    book = Logbook()
    start_servers(book, coordinator="server-2")
    last = book.add("server-2", 1.0, 20, "events_applied", ids=[])  # then kill -9
    stop_servers(book, t=10.0, names=("server-0", "server-1"))
    (violation,) = only(book.check(), "single-coordinator")
    assert "naming server-2, whose log ends early" in violation.message
    assert last in violation.lines


def test_a_new_coordinator_after_the_old_one_died_passes():
    book = Logbook()
    start_servers(book, coordinator="server-2")
    book.add("server-2", 1.0, 20, "events_applied", ids=[])
    for i, name in enumerate(("server-0", "server-1")):
        book.add(name, 2.0, 30 + i, "coordinator_unreachable", coordinator="server-2")
        book.add(name, 2.5, 40 + i, "coordinator_elected", coordinator="server-1")
    stop_servers(book, t=10.0, names=("server-0", "server-1"))
    report = book.check()
    assert report.ok, report.violations
    assert any("server-2 ended early at server-2.jsonl:3" in n for n in report.notes)


# ---- writes-replicated ----------------------------------------------------------------------


def test_a_write_missing_on_a_live_replica_names_the_acknowledgement():
    book = healthy()
    ack = book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="publish")
    book.add("server-1", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    stop_servers(book)
    (violation,) = only(book.check(), "writes-replicated")
    assert violation.lines == (ack,)
    assert "server-0:1 acknowledged by server-0 never reached live replica server-2" in (
        violation.message
    )


def test_a_replica_killed_for_good_is_not_required():
    book = healthy()
    book.add("server-2", 0.5, 10, "events_applied", ids=[])  # then kill -9, never back
    book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="publish")
    book.add("server-1", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-0", 2.0, 30, "coordinator_elected", coordinator="server-1")
    book.add("server-1", 2.0, 31, "coordinator_elected", coordinator="server-1")
    stop_servers(book, names=("server-0", "server-1"))
    assert book.check().ok


def test_a_restarted_replica_must_catch_up_or_have_it_in_its_store():
    book = healthy()
    book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="publish")
    book.add("server-0", 1.1, 21, "write_acknowledged", id="server-0:2", op="publish")
    book.add("server-1", 1.01, 22, "events_applied", ids=["server-0:1", "server-0:2"], via="peer")
    book.add("server-2", 1.01, 22, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-2", 3.0, 0, "store_opened", events=2, heads={"server-0": 2})
    book.add("server-2", 3.1, 5, "coordinator_elected", coordinator="server-2")
    stop_servers(book)
    assert book.check().ok


def test_a_write_acknowledged_just_before_the_end_is_not_required():
    book = healthy()
    book.add("server-0", 9.5, 900, "write_acknowledged", id="server-0:1", op="publish")
    stop_servers(book, t=10.0)
    assert book.check().ok


# ---- applied-once ---------------------------------------------------------------------------


def test_an_event_applied_twice_across_lifetimes_is_named():
    book = healthy()
    book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="publish")
    first = book.add("server-1", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-2", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-1", 3.0, 0, "store_opened", events=1, heads={"server-0": 1})
    book.add("server-1", 3.1, 5, "coordinator_elected", coordinator="server-2")
    again = book.add("server-1", 3.2, 30, "events_applied", ids=["server-0:1"], via="sync")
    stop_servers(book)
    (violation,) = only(book.check(), "applied-once")
    assert violation.lines == (first, again)
    assert "server-1 applied server-0:1 2 times" in violation.message


def test_an_origin_applying_its_own_write_is_named():
    book = healthy()
    ack = book.add("server-0", 1.0, 20, "write_acknowledged", id="server-0:1", op="publish")
    book.add("server-1", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    book.add("server-2", 1.01, 21, "events_applied", ids=["server-0:1"], via="peer")
    own = book.add("server-0", 1.5, 25, "events_applied", ids=["server-0:1"], via="sync")
    stop_servers(book)
    (violation,) = only(book.check(), "applied-once")
    assert violation.lines == (ack, own)
