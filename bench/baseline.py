"""The figures of the write path before it was batched (commit 0c998ae, `bbs bench --quick
--only ceiling,publish` on this 2-core machine class, 2026-11-30), printed beside a run's own
so that every run shows before and after. Ratios to the ceiling travel between runs; raw
requests per second do not."""

from __future__ import annotations

from typing import Any

from bench.targets import cluster_cpu, of_ceiling, publish_row

COMMIT = "0c998ae"
BEFORE = {
    "3-replica % of ceiling": 3.5,
    "1-replica % of ceiling": 10.4,
    "3-replica p99 ms": 82.8,
    "cluster CPU ms/publish": 2.1,
}


def after(res: dict[str, Any]) -> dict[str, float | None]:
    """This run's figures for the keys of BEFORE (None when a suite did not run)."""
    r3, r1 = publish_row(res, 3, 32), publish_row(res, 1, 32)
    return {
        "3-replica % of ceiling": of_ceiling(res, r3["throughput"], 32) if r3 else None,
        "1-replica % of ceiling": of_ceiling(res, r1["throughput"], 32) if r1 else None,
        "3-replica p99 ms": r3["p99_ms"] if r3 else None,
        "cluster CPU ms/publish": cluster_cpu(r3) if r3 else None,
    }


def line(res: dict[str, Any]) -> str:
    now = after(res)
    parts = [f"{k} {BEFORE[k]:g} -> {'-' if now[k] is None else f'{now[k]:.3g}'}" for k in BEFORE]
    return f"before/after (before = {COMMIT}, 32 clients): " + "; ".join(parts)
