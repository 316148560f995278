"""Readable text for `bbs logs --summary` and `bbs logs --check`."""

from __future__ import annotations

from typing import Any

from ops.invariants import DESCRIPTIONS, Report, Violation
from ops.summaries import BURST_GAP
from ops.table import table
from ops.timeline import clock_time

MAX_SHOWN = 20  # violations listed per invariant; --json has them all


def _stats(p: dict[str, Any]) -> list[Any]:
    return [p["count"], p["p50"], p["p99"], p["max"]]


def _winner(e: dict[str, Any]) -> str:
    if e["winner"]:
        return e["winner"]
    return "(none: the run ended)" if e["run_ended"] else "(none yet)"


def _elections(data: dict[str, Any]) -> str:
    rows = [
        [
            e["run"],
            clock_time(e["time"]),
            e["trigger"],
            e["lost"],
            ", ".join(e["started_by"]) or "-",
            _winner(e),
            e["no_coordinator_s"],
        ]
        for e in data["episodes"]
    ]
    wins = ", ".join(f"{clock_time(w['time'])} {w['winner']}" for w in data["wins"]) or "none"
    out = [
        f"Elections: {len(rows)} without-coordinator episode(s) in {data['runs']} cluster "
        f"run(s); won by: {wins}"
    ]
    if rows:
        headers = ["run", "started", "trigger", "lost", "election sent by", "winner"]
        out.append(table([*headers, "no coordinator s"], rows))
    return "\n".join(out)


def _clock(data: dict[str, Any]) -> str:
    out = [f"Clock sync: {len(data['rounds'])} Berkeley round(s)"]
    if data["servers"]:
        rows = [
            [
                s,
                v["adjustments"],
                v["total_adjustment_ms"],
                v["max_abs_adjustment_ms"],
                v["offset_ms"],
            ]
            for s, v in data["servers"].items()
        ]
        headers = ["server", "adjustments", "sum ms", "max |adj| ms", "final offset ms"]
        out.append(table(headers, rows))
    return "\n".join(out)


def _replication(data: dict[str, Any]) -> str:
    writes = ", ".join(f"{k} {v}" for k, v in data["writes"].items()) or "none"
    gaps = "; ".join(
        f"{node}: " + ", ".join(f"{o} x{n}" for o, n in origins.items())
        for node, origins in data["gaps"].items()
    )
    out = [
        f"Replication: writes acknowledged per origin: {writes}",
        f"  degraded writes: {data['degraded_writes'] or 'none'}",
        f"  gaps detected: {gaps or 'none'}",
        f"  lagging replicas: {data['lagging'] or 'none'}",
        f"  catch-ups: {len(data['catchups'])}",
    ]
    if data["catchups"]:
        rows = [
            [clock_time(c["time"]), c["node"], c["events"], c["seconds"]] for c in data["catchups"]
        ]
        out.append(table(["time", "node", "events", "seconds"], rows, indent="    "))
    out.append("  lag from durable on the origin to events_applied (on each replica), ms:")
    out.append(_per_replica(data["lag_ms"], data["lag_ms_per_replica"]))
    if data["caught_up_ms"]["count"]:
        out.append(
            "  caught up instead (by sync, or made durable before the replica served), "
            "from durable on the origin, ms:"
        )
        out.append(_per_replica(data["caught_up_ms"], data["caught_up_ms_per_replica"]))
    return "\n".join(out)


def _per_replica(total: dict[str, Any], per_replica: dict[str, dict[str, Any]]) -> str:
    rows = [["all", *_stats(total)]]
    rows += [[node, *_stats(p)] for node, p in per_replica.items()]
    return table(["replica", "events", "p50", "p99", "max"], rows, indent="    ")


def _errors(data: dict[str, Any]) -> str:
    if not data:
        return "Errors and warnings: none"
    rows = [
        [node, v["errors"], v["warnings"], ", ".join(f"{e} x{n}" for e, n in v["events"].items())]
        for node, v in data.items()
    ]
    return "Errors and warnings per node:\n" + table(["node", "errors", "warnings", "events"], rows)


def _bursts(data: list[dict[str, Any]]) -> str:
    if not data:
        return "Warnings and errors over time: none"
    largest = sorted(data, key=lambda b: -b["count"])[:MAX_SHOWN]
    shown = sorted(largest, key=lambda b: b["first"])
    rows = [
        [
            clock_time(b["first"]),
            round(b["last"] - b["first"], 3),
            b["node"],
            b["level"],
            b["event"],
            b["count"],
        ]
        for b in shown
    ]
    out = [
        f"Warnings and errors over time (one line per node and event, repeats within "
        f"{BURST_GAP:g} s counted):",
        table(["first", "seconds", "node", "level", "event", "count"], rows),
    ]
    if len(data) > MAX_SHOWN:
        out.append(f"  ... and {len(data) - MAX_SHOWN} smaller ones (see --json)")
    return "\n".join(out)


def _requests(data: dict[str, Any]) -> str:
    rows = [
        [service, *_stats(v), v["errors"], v["deadline_missed"]]
        for service, v in data["services"].items()
    ]
    head = f"Requests per service (latency ms; rejected as undecodable: {data['rejected']}):"
    return (
        head
        + "\n"
        + table(["service", "handled", "p50", "p99", "max", "erro", "deadline missed"], rows)
    )


def summary(data: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            _elections(data["elections"]),
            _clock(data["clock"]),
            _replication(data["replication"]),
            _errors(data["errors"]),
            _bursts(data["bursts"]),
            _requests(data["requests"]),
        ]
    )


def check(report: Report) -> str:
    failed = {v.invariant for v in report.violations}
    out = [
        f"Invariants: {len(DESCRIPTIONS) - len(failed)} passed, {len(failed)} failed"
        + (" -- FAILED" if failed else "")
    ]
    for name, text in DESCRIPTIONS.items():
        mark = "FAIL" if name in failed else "ok"
        out.append(f"  [{mark:4}] {name:20} {text} ({report.checked.get(name, 0)} checked)")
        out.extend(_listed(report.failed(name)))
    out.extend(f"  note: {note}" for note in report.notes)
    return "\n".join(out)


def _listed(violations: list[Violation]) -> list[str]:
    out = []
    for v in violations[:MAX_SHOWN]:
        out.append(f"         {v.message}")
        out.extend(f"           at {where}" for where in v.lines)
    if len(violations) > MAX_SHOWN:
        out.append(f"         ... and {len(violations) - MAX_SHOWN} more (see --json)")
    return out
