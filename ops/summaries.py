"""What happened in a run, computed from its log lines: elections, clock sync, replication,
errors and requests. Every function returns plain JSON-ready data."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from ops.lifetimes import RESTART_GAP, SERVER, RunView, view
from ops.log_reader import LogLine

BURST_GAP = 1.0  # warnings of one node and event at most this far apart are one burst

UNREACHABLE = "coordinator_unreachable"
UNLISTED = "coordinator_unlisted"
STARTED = "election_started"
ELECTED = "coordinator_elected"
LOST = (UNREACHABLE, UNLISTED)
SERVING = "server_serving"
ERROR_LEVELS = ("error", "critical", "exception")


def percentiles(values: Iterable[float]) -> dict[str, Any]:
    """count, p50, p99 and max (nearest-rank); None values when there is nothing."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "p50": None, "p99": None, "max": None}

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)], 3)

    return {
        "count": len(ordered),
        "p50": rank(0.50),
        "p99": rank(0.99),
        "max": round(ordered[-1], 3),
    }


def _by_time(lines: Iterable[LogLine]) -> list[LogLine]:
    return sorted(
        (ln for ln in lines if ln.time is not None),
        key=lambda ln: (ln.time, ln.lamport or 0),
    )


def _key(line: LogLine) -> tuple[str, int]:
    return (line.source, line.line_no)


def cluster_runs(run: RunView) -> list[tuple[float, float]]:
    """(start, end) of each cluster run: a stretch of time during which some server process
    was running (a run ends when the last server's lifetime ends and none overlaps it)."""
    spans = sorted(
        (lt.start, lt.end)
        for lts in run.lifetimes.values()
        for lt in lts
        if lt.role == SERVER and lt.start is not None and lt.end is not None
    )
    runs: list[list[float]] = []
    for start, end in spans:
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    return [(start, end) for start, end in runs]


def _startup_elections(run: RunView) -> set[tuple[str, int]]:
    """`election_started` lines a server logged before it first knew a coordinator in that
    process lifetime: the election of a process start, not a failover."""
    out = set()
    for lts in run.lifetimes.values():
        for lt in lts:
            for line in lt.lines:
                if line.event == ELECTED:
                    break
                if line.event == STARTED:
                    out.add(_key(line))
    return out


def elections(lines: list[LogLine], run: RunView | None = None) -> dict[str, Any]:
    """Episodes without a coordinator, per cluster run: from the first `coordinator_unreachable`
    / `coordinator_unlisted` / `election_started` to the next `coordinator_elected` anywhere in
    the cluster in the same run. An episode still open when its run ended has no winner and no
    duration (the time until another run's election is not a failover)."""
    run = run or view(lines)
    startup = _startup_elections(run)
    episodes: list[dict[str, Any]] = []
    wins: list[dict[str, Any]] = []
    relevant = _by_time(ln for ln in lines if ln.event in (*LOST, STARTED, ELECTED))
    runs = cluster_runs(run)
    for number, (start, end) in enumerate(runs or [(-math.inf, math.inf)], 1):
        current: dict[str, Any] | None = None
        for line in (ln for ln in relevant if start <= ln.time <= end):
            if line.event == ELECTED:
                if line.get("me"):
                    wins.append(
                        {
                            "time": line.time,
                            "winner": line.node,
                            "previous": line.get("previous"),
                            "where": line.where,
                        }
                    )
                if current is not None:
                    current.update(
                        winner=line.get("coordinator"),
                        no_coordinator_s=round(line.time - current["time"], 3),
                        elected_where=line.where,
                    )
                    episodes.append(current)
                    current = None
                continue
            if current is None:
                at_start = line.event == STARTED and _key(line) in startup
                current = {
                    "run": number,
                    "time": line.time,
                    "trigger": "process start" if at_start else line.event,
                    "lost": None,
                    "started_by": [],
                    "winner": None,
                    "no_coordinator_s": None,
                    "run_ended": False,
                    "where": line.where,
                }
            if line.event == STARTED and line.node not in current["started_by"]:
                current["started_by"].append(line.node)
            if line.event in LOST and current["lost"] is None:
                current["lost"] = line.get("coordinator")
        if current is not None:
            current["run_ended"] = True
            episodes.append(current)
    return {"runs": len(runs), "episodes": episodes, "wins": wins}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def clock(lines: list[LogLine]) -> dict[str, Any]:
    """Berkeley rounds, and per server the adjustments it applied and its resulting offset:
    a follower logs `clock_adjusted {delta, offset}`; the coordinator applies its own delta
    silently, so its offset is replayed from its rounds (it restarts at 0 with the process)."""
    rounds = []
    applied: dict[str, list[float]] = defaultdict(list)
    offset: dict[str, float] = {}
    for line in _by_time(lines):
        node = line.node
        if line.event == "store_opened":
            offset[node] = 0.0
        elif line.event == "clock_sync_round":
            adjustments = line.get("adjustments") or {}
            rounds.append(
                {
                    "time": line.time,
                    "coordinator": node,
                    "offsets": line.get("offsets"),
                    "adjustments": adjustments,
                    "where": line.where,
                }
            )
            own = _number(adjustments.get(node))
            if own is not None:
                applied[node].append(own)
                offset[node] = offset.get(node, 0.0) + own
        elif line.event == "clock_adjusted":
            delta, now = _number(line.get("delta")), _number(line.get("offset"))
            if delta is not None:
                applied[node].append(delta)
            if now is not None:
                offset[node] = now
    servers = {
        server: {
            "adjustments": len(deltas),
            "total_adjustment_ms": round(sum(deltas) * 1000, 3),
            "max_abs_adjustment_ms": round(max(abs(d) for d in deltas) * 1000, 3),
            "offset_ms": round(offset.get(server, 0.0) * 1000, 3),
        }
        for server, deltas in sorted(applied.items())
    }
    return {"rounds": rounds, "servers": servers}


def _serving_since(run: RunView) -> dict[tuple[str, int], float]:
    """For every line of a server: when its process started serving (its `server_serving`
    line; the start of the lifetime when it has none)."""
    out: dict[tuple[str, int], float] = {}
    for lts in run.lifetimes.values():
        for lt in lts:
            if lt.role != SERVER or lt.start is None:
                continue
            since = next((ln.time for ln in lt.lines if ln.event == SERVING and ln.time), lt.start)
            out.update((_key(line), since) for line in lt.lines)
    return out


def replication(lines: list[LogLine], run: RunView | None = None) -> dict[str, Any]:
    """Gaps, catch-ups, lagging peers, and the lag of every event: wall time from durable on
    its origin (`write_acknowledged` time minus its `stored_ms`) to `events_applied` on each
    replica. An event a replica took by catching up (a `sync` pull, or an event made durable
    before that replica's process started serving: it was down or starting) is counted apart,
    as catch-up, not as replication lag."""
    run = run or view(lines)
    serving = _serving_since(run)
    acked: dict[str, LogLine] = {}
    stored: dict[str, float] = {}
    gaps: dict[str, Counter[str]] = defaultdict(Counter)
    catchups, lagging, degraded = [], Counter(), Counter()
    for line in lines:
        if line.event == "write_acknowledged" and isinstance(line.get("id"), str):
            acked.setdefault(line.get("id"), line)
            since = line.get("stored_ms")
            if isinstance(since, (int, float)) and line.time is not None:
                stored.setdefault(line.get("id"), line.time - since / 1000)
        elif line.event == "replica_gap_detected":
            gaps[line.node].update(str(o) for o in line.get("origins") or ["?"])
        elif line.event == "catchup_done":
            catchups.append(
                {
                    "node": line.node,
                    "time": line.time,
                    "events": line.get("events"),
                    "seconds": line.get("seconds"),
                    "where": line.where,
                }
            )
        elif line.event == "replica_lagging":
            lagging[f"{line.node} -> {line.get('peer')}"] += 1
        elif line.event == "write_degraded":
            degraded[line.node] += 1
    lags: dict[str, list[float]] = defaultdict(list)
    caught_up: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        ids = line.get("ids") if line.event == "events_applied" else None
        if not isinstance(ids, list) or line.time is None:
            continue
        started = serving.get(_key(line), -math.inf)
        for event_id in ids:
            origin = stored.get(event_id) if isinstance(event_id, str) else None
            if origin is None:
                continue
            late = line.get("via") == "sync" or origin < started
            (caught_up if late else lags)[line.node].append((line.time - origin) * 1000)
    return {
        "writes": dict(sorted(Counter(a.node for a in acked.values()).items())),
        "degraded_writes": dict(degraded),
        "gaps": {node: dict(c) for node, c in sorted(gaps.items())},
        "catchups": sorted(catchups, key=lambda c: (c["time"] is None, c["time"] or 0.0)),
        "lagging": dict(lagging),
        "lag_ms": percentiles(v for values in lags.values() for v in values),
        "lag_ms_per_replica": {node: percentiles(v) for node, v in sorted(lags.items())},
        "caught_up_ms": percentiles(v for values in caught_up.values() for v in values),
        "caught_up_ms_per_replica": {node: percentiles(v) for node, v in sorted(caught_up.items())},
    }


def errors(lines: list[LogLine]) -> dict[str, Any]:
    per_node: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line.level not in (*ERROR_LEVELS, "warning"):
            continue
        entry = per_node.setdefault(line.node, {"errors": 0, "warnings": 0, "events": Counter()})
        entry["errors" if line.level in ERROR_LEVELS else "warnings"] += 1
        entry["events"][line.event] += 1
    return {
        node: {**entry, "events": dict(entry["events"].most_common())}
        for node, entry in sorted(per_node.items())
    }


def bursts(lines: list[LogLine], gap: float = BURST_GAP) -> list[dict[str, Any]]:
    """Warnings and errors of one node and event, each at most `gap` seconds after the
    previous one, as one entry with a count (a restart can log thousands in a second)."""
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    noisy = (ln for ln in lines if ln.level in (*ERROR_LEVELS, "warning"))
    for line in _by_time(noisy):
        key = (line.node, line.event)
        burst = open_.get(key)
        if burst is None or line.time - burst["last"] > gap:
            burst = {
                "node": line.node,
                "event": line.event,
                "level": line.level,
                "count": 0,
                "first": line.time,
                "last": line.time,
                "where": line.where,
            }
            open_[key] = burst
            out.append(burst)
        burst["count"] += 1
        burst["last"] = line.time
    return out


def requests(lines: list[LogLine]) -> dict[str, Any]:
    latency: dict[str, list[float]] = defaultdict(list)
    failed: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    rejected = 0
    for line in lines:
        service = str(line.get("service"))
        if line.event == "request_handled":
            if isinstance(line.get("latency_ms"), (int, float)):
                latency[service].append(float(line.get("latency_ms")))
            if line.get("status") == "erro":
                failed[service] += 1
        elif line.event == "request_deadline_missed":
            missed[service] += 1
        elif line.event == "request_rejected":
            rejected += 1
    services = {
        service: {
            **percentiles(values),
            "errors": failed[service],
            "deadline_missed": missed[service],
        }
        for service, values in sorted(latency.items())
    }
    return {"services": services, "rejected": rejected}


def summarize(lines: list[LogLine], restart_gap: float = RESTART_GAP) -> dict[str, Any]:
    run = view(lines, restart_gap)
    return {
        "elections": elections(lines, run),
        "clock": clock(lines),
        "replication": replication(lines, run),
        "errors": errors(lines),
        "bursts": bursts(lines),
        "requests": requests(lines),
    }
