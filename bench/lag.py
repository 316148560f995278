"""Replication lag from the servers' logs.

The origin logs `write_acknowledged` {id, stored_ms} when it tells the client OK, `stored_ms`
after the event became durable in its own store; every replica logs `events_applied`
{ids} once an event is durable in its store. For each event acknowledged inside a time
window, with `last` = the last replica's apply time:
- lag after the ack = last - acknowledgement (the issue's definition; negative when every
  replica had it before the client was told OK, counted as 0);
- replication time = last - stored on the origin (how long replication itself takes).
All processes run on this host, so their wall clocks are one clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import logs
from bench.stats import percentile


def _origin(event_id: str) -> str:
    return event_id.rsplit(":", 1)[0]


def measure(log_paths: dict[str, Path], window: tuple[float, float]) -> dict[str, Any]:
    acked: dict[str, float] = {}
    stored: dict[str, float] = {}
    applied: dict[str, dict[str, float]] = {}
    for name, path in log_paths.items():
        for rec in logs.read(path, 0, ("write_acknowledged", "events_applied")):
            if rec["event"] == "write_acknowledged":
                if window[0] <= rec["t"] <= window[1]:
                    acked[rec["id"]] = rec["t"]
                if isinstance(rec.get("stored_ms"), (int, float)):
                    stored[rec["id"]] = rec["t"] - rec["stored_ms"] / 1000
            else:
                for event_id in rec.get("ids", []):
                    applied.setdefault(event_id, {}).setdefault(name, rec["t"])
    servers = set(log_paths)
    signed, replication, missing = [], [], 0
    for event_id, t_ack in acked.items():
        replicas = servers - {_origin(event_id)}
        have = applied.get(event_id, {})
        if not replicas <= set(have):
            missing += 1
            continue
        last = max(have[r] for r in replicas)
        signed.append(last - t_ack)
        if event_id in stored:
            replication.append((last - stored[event_id]) * 1000)
    lag_ms = [max(0.0, s) * 1000 for s in signed]
    signed_ms = [s * 1000 for s in signed]

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "events": len(acked),
        "not_on_every_replica": missing,
        "p50_ms": r(percentile(lag_ms, 50)),
        "p99_ms": r(percentile(lag_ms, 99)),
        "max_ms": r(max(lag_ms) if lag_ms else None),
        "applied_before_ack": sum(1 for s in signed if s <= 0),
        "signed_p50_ms": r(percentile(signed_ms, 50)),
        "signed_p99_ms": r(percentile(signed_ms, 99)),
        "signed_min_ms": r(min(signed_ms) if signed_ms else None),
        "stored_to_replicas_p50_ms": r(percentile(replication, 50)),
        "stored_to_replicas_p99_ms": r(percentile(replication, 99)),
        "stored_to_replicas_max_ms": r(max(replication) if replication else None),
    }
