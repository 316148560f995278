"""Reading, merging and summarizing logs, and the `bbs logs` command, on synthetic lines."""

from __future__ import annotations

import io
import json

from ops import log_reader, logs, report_text, summaries, timeline
from ops.timeline import Filters
from tests.ops.logbook import SERVERS, Logbook, start_servers, stop_servers


def test_reader_skips_and_counts_what_is_not_a_log_object(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        '{"event": "x", "node": "n", "lamport": 1}\n'
        "Traceback (most recent call last):\n"
        "\n"
        '["not", "an", "object"]\n'
        '{"no_event": 1}\n'
        'server-1  | {"event": "y", "node": "s", "lamport": 2}\n'
    )
    (tmp_path / "b.log").write_text('{"event": "z", "node": "m", "lamport": 3}\n')
    (tmp_path / "ignored.txt").write_text('{"event": "never", "node": "q"}\n')
    result = log_reader.read([str(tmp_path)])
    assert [ln.event for ln in result.lines] == ["x", "y", "z"]
    assert [ln.line_no for ln in result.lines] == [1, 6, 1]
    assert result.skipped == {str(tmp_path / "a.jsonl"): 3}


def test_reader_reads_standard_input():
    stdin = io.StringIO(
        '{"event": "x", "node": "n", "lamport": 1, "timestamp": "2026-01-01T00:00:00Z"}\n'
    )
    result = log_reader.read(["-"], stdin)
    (line,) = result.lines
    assert line.where == "-:1"
    assert line.time == 1767225600.0


def test_timeline_orders_by_lamport_then_wall_time_and_filters():
    book = Logbook()
    book.add("server-0", 2.0, 5, "b")
    book.add("server-0", 3.0, 7, "d", level="warning")
    book.add("bot-0", 1.0, 5, "a", role="bot")
    book.add("bot-0", 0.5, 6, "c", role="bot")
    lines = book.lines()
    assert [ln.event for ln in timeline.merge(lines)] == ["a", "b", "c", "d"]
    assert [ln.event for ln in timeline.merge(lines, Filters(node=["server-*"]))] == ["b", "d"]
    only_warnings = Filters(role=["server", "bot"], level=["warning"])
    assert [ln.event for ln in timeline.merge(lines, only_warnings)] == ["d"]
    text = timeline.render(timeline.merge(lines))
    assert text.splitlines()[0].split()[:3] == ["5", "08:00:01.000", "bot-0"]


def test_percentiles_use_the_nearest_rank():
    stats = summaries.percentiles(range(1, 101))
    assert stats == {"count": 100, "p50": 50, "p99": 99, "max": 100}
    assert summaries.percentiles([])["p50"] is None


def test_summary_measures_elections_lag_and_requests():
    book = Logbook()
    start_servers(book, coordinator="server-2")
    book.add(
        "server-0", 2.0, 30, "coordinator_unreachable", coordinator="server-2", level="warning"
    )
    book.add("server-0", 2.1, 31, "election_started", to="server-1")
    book.add("server-1", 2.7, 40, "coordinator_elected", coordinator="server-1", me=True)
    book.add("server-0", 3.05, 51, "events_applied", ids=["server-1:1"], via="pub")
    book.add(
        "server-1", 3.06, 52, "write_acknowledged", id="server-1:1", op="publish", stored_ms=60.0
    )
    for ms in (1.0, 2.0, 3.0):
        book.add(
            "server-0",
            4.0,
            60,
            "request_handled",
            service="publish",
            status="OK",
            request_clock=1,
            reply_clock=60,
            latency_ms=ms,
        )
    summary = summaries.summarize(book.lines())
    (episode,) = summary["elections"]["episodes"]
    assert episode["lost"] == "server-2" and episode["started_by"] == ["server-0"]
    assert episode["winner"] == "server-1" and episode["no_coordinator_s"] == 0.7
    assert summary["replication"]["lag_ms"]["max"] == 50.0
    assert summary["requests"]["services"]["publish"]["p50"] == 2.0
    assert summary["errors"]["server-0"] == {
        "errors": 0,
        "warnings": 1,
        "events": {"coordinator_unreachable": 1},
    }


def test_logs_command_exit_status_and_json(tmp_path):
    book = Logbook()
    start_servers(book)
    stop_servers(book)
    folder = book.write(tmp_path / "ok")
    out = io.StringIO()
    assert logs.run([str(folder), "--check", "--summary", "--json"], out=out) == 0
    document = json.loads(out.getvalue())
    assert document["check"]["ok"] and "summary" in document

    book.add("server-0", 11.0, 1, "request_handled", request_clock=5, reply_clock=4)
    folder = book.write(tmp_path / "bad")
    out = io.StringIO()
    assert logs.run([str(folder), "--check"], out=out) == 1
    assert "[FAIL] reply-after-request" in out.getvalue()
    assert f"at {folder / 'server-0.jsonl'}:5" in out.getvalue()

    assert logs.run([str(tmp_path / "missing.jsonl")]) == 2
    assert logs.run(["-", "--check"], stdin=io.StringIO("no logs here\n")) == 2


def test_clock_summary_replays_the_coordinators_own_offset():
    book = Logbook()
    start_servers(book, names=("server-0", "server-1"))
    for t, own, theirs in ((1.0, 0.002, -0.002), (2.0, 0.001, -0.001)):
        book.add(
            "server-1", t, 10, "clock_sync_round", adjustments={"server-1": own, "server-0": theirs}
        )
        book.add("server-0", t + 0.01, 11, "clock_adjusted", delta=theirs, offset=-0.003 * t)
    servers = summaries.clock(book.lines())["servers"]
    assert servers["server-1"]["offset_ms"] == 3.0
    assert servers["server-0"] == {
        "adjustments": 2,
        "total_adjustment_ms": -3.0,
        "max_abs_adjustment_ms": 2.0,
        "offset_ms": -6.0,
    }


def test_a_failover_is_measured_within_its_cluster_run():
    book = Logbook()
    start_servers(book, coordinator="server-2")
    # the first run stops: a follower notices its coordinator leave just before it stops too
    book.add("server-0", 9.9, 900, "coordinator_unreachable", coordinator="server-2")
    stop_servers(book, t=10.0)
    # 150 s later a second run: each server elects at its start, then the coordinator dies
    for i, name in enumerate(SERVERS):
        book.add(name, 160.0, 0, "store_opened", events=0, heads={})
        book.add(name, 160.1, 1 + i, "election_started", to="server-2")
        book.add(name, 160.5, 5 + i, "coordinator_elected", coordinator="server-2")
    book.add("server-2", 160.5, 9, "coordinator_elected", coordinator="server-2", me=True)
    book.add("server-0", 201.0, 30, "coordinator_unreachable", coordinator="server-2")
    book.add("server-0", 201.1, 31, "election_started", to="server-1")
    book.add("server-1", 203.4, 40, "coordinator_elected", coordinator="server-1", me=True)
    result = summaries.summarize(book.lines())["elections"]
    assert result["runs"] == 2
    ended, startup, failover = result["episodes"]
    assert (ended["run"], ended["run_ended"], ended["no_coordinator_s"]) == (1, True, None)
    assert (startup["run"], startup["trigger"], startup["no_coordinator_s"]) == (
        2,
        "process start",
        0.4,
    )
    assert failover["trigger"] == "coordinator_unreachable" and failover["lost"] == "server-2"
    assert (failover["winner"], failover["no_coordinator_s"]) == ("server-1", 2.4)
    text = report_text.summary(summaries.summarize(book.lines()))
    assert "(none: the run ended)" in text and "151" not in text


def test_catch_ups_are_listed_in_time_order():
    book = Logbook()
    book.add("server-0", 5.0, 10, "catchup_done", events=7, seconds=0.2)
    book.add("server-1", 2.0, 10, "catchup_done", events=3, seconds=0.1)
    book.add("server-2", 3.5, 10, "catchup_done", events=5, seconds=0.1)
    catchups = summaries.summarize(book.lines())["replication"]["catchups"]
    assert [c["node"] for c in catchups] == ["server-1", "server-2", "server-0"]


def test_catching_up_after_a_restart_is_not_counted_as_replication_lag():
    book = Logbook()
    start_servers(book)
    book.add("server-2", 1.02, 20, "events_applied", ids=["server-1:1"], via="peer")
    # server-2 is killed; server-1 writes while it is down
    book.add("server-1", 1.01, 21, "write_acknowledged", id="server-1:1", stored_ms=5.0)
    book.add("server-1", 3.0, 22, "write_acknowledged", id="server-1:2", stored_ms=5.0)
    book.add("server-1", 4.0, 23, "write_acknowledged", id="server-1:3", stored_ms=5.0)
    # restarted 40 s later: the missed writes come by sync and from the origin's outbox
    book.add("server-2", 40.0, 0, "store_opened", events=1, heads={})
    book.add("server-2", 41.0, 5, "events_applied", ids=["server-1:2"], via="sync")
    book.add("server-2", 41.5, 6, "events_applied", ids=["server-1:3"], via="peer")
    book.add("server-2", 42.0, 7, "server_serving")
    book.add("server-1", 50.0, 30, "write_acknowledged", id="server-1:4", stored_ms=20.0)
    book.add("server-2", 50.0, 31, "events_applied", ids=["server-1:4"], via="peer")
    replication = summaries.summarize(book.lines())["replication"]
    assert replication["lag_ms"]["count"] == 2 and replication["lag_ms"]["max"] == 20.0
    assert replication["caught_up_ms"]["count"] == 2
    assert replication["caught_up_ms_per_replica"]["server-2"]["max"] == 38005.0
    text = report_text.summary(summaries.summarize(book.lines()))
    assert "caught up instead" in text


def test_repeated_warnings_are_one_line_with_a_count():
    book = Logbook()
    for i in range(2726):  # after a restart, within one second
        book.add("server-2", 5.0 + i / 3000, 10 + i, "replica_gap_detected", level="warning")
    book.add("server-2", 9.0, 5000, "replica_gap_detected", level="warning")
    book.add("server-0", 5.5, 20, "replica_lagging", level="warning", peer="server-2")
    bursts = summaries.summarize(book.lines())["bursts"]
    assert [(b["node"], b["event"], b["count"]) for b in bursts] == [
        ("server-2", "replica_gap_detected", 2726),
        ("server-0", "replica_lagging", 1),
        ("server-2", "replica_gap_detected", 1),
    ]
    text = report_text.summary(summaries.summarize(book.lines()))
    (line,) = [ln for ln in text.splitlines() if "2726" in ln]
    assert "replica_gap_detected" in line and "server-2" in line
