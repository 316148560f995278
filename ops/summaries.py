"""What happened in a run, computed from its log lines: elections, clock sync, replication,
errors and requests. Every function returns plain JSON-ready data."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from ops.log_reader import LogLine

UNREACHABLE = "coordinator_unreachable"
STARTED = "election_started"
ELECTED = "coordinator_elected"
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


def elections(lines: list[LogLine]) -> dict[str, Any]:
    """Episodes without a coordinator: from the first `coordinator_unreachable` or
    `election_started` to the next `coordinator_elected` anywhere in the cluster."""
    episodes: list[dict[str, Any]] = []
    wins: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    relevant = [ln for ln in lines if ln.event in (UNREACHABLE, STARTED, ELECTED)]
    for line in _by_time(relevant):
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
            current = {
                "time": line.time,
                "trigger": line.event,
                "lost": line.get("coordinator") if line.event == UNREACHABLE else None,
                "started_by": [],
                "winner": None,
                "no_coordinator_s": None,
                "where": line.where,
            }
        if line.event == STARTED and line.node not in current["started_by"]:
            current["started_by"].append(line.node)
        if line.event == UNREACHABLE and current["lost"] is None:
            current["lost"] = line.get("coordinator")
    if current is not None:
        episodes.append(current)
    return {"episodes": episodes, "wins": wins}


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


def replication(lines: list[LogLine]) -> dict[str, Any]:
    """Gaps, catch-ups, lagging peers, and the lag of every event: wall time from durable on
    its origin (`write_acknowledged` time minus its `stored_ms`) to `events_applied` on each
    replica."""
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
    for line in lines:
        ids = line.get("ids") if line.event == "events_applied" else None
        for event_id in ids if isinstance(ids, list) else ():
            origin = stored.get(event_id)
            if origin is not None and line.time is not None:
                lags[line.node].append((line.time - origin) * 1000)
    return {
        "writes": dict(sorted(Counter(a.node for a in acked.values()).items())),
        "degraded_writes": dict(degraded),
        "gaps": {node: dict(c) for node, c in sorted(gaps.items())},
        "catchups": catchups,
        "lagging": dict(lagging),
        "lag_ms": percentiles(v for values in lags.values() for v in values),
        "lag_ms_per_replica": {node: percentiles(v) for node, v in sorted(lags.items())},
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


def summarize(lines: list[LogLine]) -> dict[str, Any]:
    return {
        "elections": elections(lines),
        "clock": clock(lines),
        "replication": replication(lines),
        "errors": errors(lines),
        "requests": requests(lines),
    }
