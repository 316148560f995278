"""Invariants a run's logs must satisfy; each check names the offending lines (file:line).

Rules (see ops.lifetimes for lifetimes and "alive at the end"):
- lamport-monotonic: within one lifetime of a node, in file order, `lamport` never decreases
  (the logger stamps the clock and writes the line under one lock, so file order is stamp
  order).
- reply-after-request: every `request_handled` has `reply_clock > request_clock`.
- single-coordinator: the last `coordinator_elected` of each server alive at the end (in its
  final lifetime, before the first shutdown signal among those servers) names one and the same
  coordinator, that coordinator is itself alive at the end, and every such server whose final
  lifetime lasted longer than `end_slack` knows a coordinator.
- writes-replicated: each `write_acknowledged` id is in `events_applied` (any lifetime) of every
  other server alive at the end, or within the `heads` of one of its `store_opened` lines. A
  write acknowledged less than `settle` seconds before that replica's log ends is not required
  (the run stopped before replication could be observed).
- applied-once: an id appears at most once in a node's `events_applied` across all its
  lifetimes (stores are durable), and never in the `events_applied` of the origin that
  acknowledged it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ops.lifetimes import Lifetime, RunView
from ops.log_reader import LogLine

SETTLE = 2.0

DESCRIPTIONS = {
    "lamport-monotonic": "each node's Lamport clock never decreases within a lifetime",
    "reply-after-request": "every reply's clock exceeds its request's",
    "single-coordinator": "servers alive at the end agree on one live coordinator",
    "writes-replicated": "every acknowledged write reached every live replica",
    "applied-once": "no event is applied twice on a node",
}


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str
    lines: tuple[str, ...] = ()  # file:line of the offending lines

    def as_dict(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "message": self.message, "lines": list(self.lines)}


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # invariant -> items examined
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def failed(self, invariant: str) -> list[Violation]:
        return [v for v in self.violations if v.invariant == invariant]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "invariants": {
                name: {
                    "description": text,
                    "checked": self.checked.get(name, 0),
                    "ok": not self.failed(name),
                }
                for name, text in DESCRIPTIONS.items()
            },
            "violations": [v.as_dict() for v in self.violations],
            "notes": self.notes,
        }


def _seq(event_id: str) -> tuple[str, int] | None:
    origin, _, seq = event_id.rpartition(":")
    return (origin, int(seq)) if origin and seq.isdigit() else None


def lamport_monotonic(run: RunView) -> tuple[int, list[Violation]]:
    out, count = [], 0
    for node, lifetimes in run.lifetimes.items():
        for lifetime in lifetimes:
            count += 1
            stamped = [ln for ln in lifetime.lines if ln.lamport is not None]
            for prev, line in itertools.pairwise(stamped):
                if line.lamport < prev.lamport:
                    out.append(
                        Violation(
                            "lamport-monotonic",
                            f"{node}: lamport went back from {prev.lamport} ({prev.event}) "
                            f"to {line.lamport} ({line.event})",
                            (prev.where, line.where),
                        )
                    )
    return count, out


def reply_after_request(lines: list[LogLine]) -> tuple[int, list[Violation]]:
    out, count = [], 0
    for line in lines:
        if line.event != "request_handled":
            continue
        request, reply = line.get("request_clock"), line.get("reply_clock")
        if not isinstance(request, int) or not isinstance(reply, int):
            continue
        count += 1
        if reply <= request:
            out.append(
                Violation(
                    "reply-after-request",
                    f"{line.node}: {line.get('service')} reply_clock {reply} <= "
                    f"request_clock {request}",
                    (line.where,),
                )
            )
    return count, out


def _shutdown_cutoff(run: RunView) -> float | None:
    starts = [
        ln.time
        for node in run.live
        for ln in run.final(node).lines
        if ln.event in ("signal_received", "stopped") and ln.time is not None
    ]
    return min(starts, default=None)


def _last_election(lifetime: Lifetime, cutoff: float | None) -> LogLine | None:
    found = None
    for line in lifetime.lines:
        if cutoff is not None and line.time is not None and line.time > cutoff:
            break
        if line.event == "coordinator_elected":
            found = line
    return found


def single_coordinator(run: RunView) -> tuple[int, list[Violation]]:
    out: list[Violation] = []
    cutoff = _shutdown_cutoff(run)
    named: dict[str, LogLine] = {}
    for node in sorted(run.live):
        lifetime = run.final(node)
        line = _last_election(lifetime, cutoff)
        if line is not None:
            named[node] = line
            continue
        start, stop = lifetime.start, cutoff if cutoff is not None else lifetime.end
        if start is not None and stop is not None and stop - start > run.end_slack:
            out.append(
                Violation(
                    "single-coordinator",
                    f"{node} ran {stop - start:.1f}s in its last lifetime without learning a "
                    "coordinator",
                    (lifetime.first.where, lifetime.last.where),
                )
            )
    choices = {str(ln.get("coordinator")) for ln in named.values()}
    if len(choices) > 1:
        detail = ", ".join(f"{n} -> {ln.get('coordinator')}" for n, ln in named.items())
        out.append(
            Violation(
                "single-coordinator",
                f"live servers end with different coordinators: {detail}",
                tuple(ln.where for ln in named.values()),
            )
        )
    for coordinator in sorted(choices & set(run.ended_early())):
        last = run.final(coordinator).last
        out.append(
            Violation(
                "single-coordinator",
                f"live servers end naming {coordinator}, whose log ends early (dead at the end)",
                (
                    *(ln.where for ln in named.values() if ln.get("coordinator") == coordinator),
                    last.where,
                ),
            )
        )
    return len(named), out


def _applied(run: RunView) -> dict[str, dict[str, list[LogLine]]]:
    """node -> id -> events_applied lines naming it."""
    applied: dict[str, dict[str, list[LogLine]]] = defaultdict(lambda: defaultdict(list))
    for node, lifetimes in run.lifetimes.items():
        for lifetime in lifetimes:
            for line in lifetime.lines:
                ids = line.get("ids") if line.event == "events_applied" else None
                for event_id in ids if isinstance(ids, list) else ():
                    applied[node][str(event_id)].append(line)
    return applied


def _acks(run: RunView) -> list[LogLine]:
    return [
        line
        for lifetimes in run.lifetimes.values()
        for lifetime in lifetimes
        for line in lifetime.lines
        if line.event == "write_acknowledged" and isinstance(line.get("id"), str)
    ]


def _stored_at_open(lifetimes: list[Lifetime], event_id: str) -> bool:
    parsed = _seq(event_id)
    if parsed is None:
        return False
    origin, seq = parsed
    for lifetime in lifetimes:
        for line in lifetime.lines:
            heads = line.get("heads") if line.event == "store_opened" else None
            stored = heads.get(origin) if isinstance(heads, dict) else None
            if isinstance(stored, int) and stored >= seq:
                return True
    return False


def writes_replicated(
    run: RunView, applied: dict[str, dict[str, list[LogLine]]], settle: float = SETTLE
) -> tuple[int, list[Violation]]:
    out, count = [], 0
    for ack in _acks(run):
        event_id = ack.get("id")
        for replica in sorted(run.live - {ack.node}):
            end = run.final(replica).end
            if ack.time is not None and end is not None and end - ack.time < settle:
                continue
            count += 1
            if event_id in applied[replica] or _stored_at_open(run.lifetimes[replica], event_id):
                continue
            out.append(
                Violation(
                    "writes-replicated",
                    f"write {event_id} acknowledged by {ack.node} never reached live replica "
                    f"{replica} (its log ends at {run.final(replica).last.where})",
                    (ack.where,),
                )
            )
    return count, out


def applied_once(
    run: RunView, applied: dict[str, dict[str, list[LogLine]]]
) -> tuple[int, list[Violation]]:
    out, count = [], 0
    acked_by = {(ack.node, ack.get("id")): ack for ack in _acks(run)}
    for node in sorted(applied):
        for event_id, lines in applied[node].items():
            count += 1
            if len(lines) > 1:
                out.append(
                    Violation(
                        "applied-once",
                        f"{node} applied {event_id} {len(lines)} times",
                        tuple(ln.where for ln in lines),
                    )
                )
            own = acked_by.get((node, event_id))
            if own is not None:
                out.append(
                    Violation(
                        "applied-once",
                        f"{node} re-applied its own acknowledged write {event_id}",
                        (own.where, *(ln.where for ln in lines)),
                    )
                )
    return count, out


def check(run: RunView, lines: list[LogLine], settle: float = SETTLE) -> Report:
    report = Report()
    applied = _applied(run)
    count, violations = lamport_monotonic(run)
    results = {
        "lamport-monotonic": (count, violations),
        "reply-after-request": reply_after_request(lines),
        "single-coordinator": single_coordinator(run),
        "writes-replicated": writes_replicated(run, applied, settle),
        "applied-once": applied_once(run, applied),
    }
    for name, (count, violations) in results.items():
        report.checked[name] = count
        report.violations.extend(violations)
    report.notes.append(f"servers alive at the end: {', '.join(sorted(run.live)) or 'none'}")
    for node in run.ended_early():
        last = run.final(node).last
        how = "stopped" if last.event == "stopped" else "no `stopped` line: killed"
        report.notes.append(f"{node} ended early at {last.where} ({how}); not required as replica")
    restarts = {n: len(lts) - 1 for n, lts in run.lifetimes.items() if len(lts) > 1}
    if restarts:
        report.notes.append(
            "restarts: " + ", ".join(f"{n} x{k}" for n, k in sorted(restarts.items()))
        )
    return report
