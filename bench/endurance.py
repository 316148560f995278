"""Throughput over time with a large store: 3 replicas that already hold N messages take
publishes from 32 clients for a minute; the first and the last 10 seconds are compared.

Every replica starts from the same filled store (server-0's log 1..N copied to each), so the
cluster serves at once with equal heads, as after a long life."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import bigstore
from bench.ceiling import level_row
from bench.load import LoadSpec, run_load
from bench.topology import USER, ClusterRun

CHANNEL = "endurance"
CLIENTS = 32
WINDOW = 10  # seconds compared at each end


def _rate(per_second: list[int], seconds: slice) -> float:
    part = per_second[seconds]
    return sum(part) / len(part) if part else 0.0


def run(messages: int, duration: float, work: Path) -> dict[str, Any]:
    def prepare(data_dir: Path) -> None:
        print(f"  filling the replicas' stores with {messages:,} messages...", flush=True)
        first = data_dir / f"{bigstore.SERVER}.sqlite3"
        bigstore.fill(first, messages)
        for name in ("server-1", "server-2"):
            shutil.copyfile(first, data_dir / f"{name}.sqlite3")

    with ClusterRun(3, work / "endurance", prepare=prepare) as run_:
        run_.channel(CHANNEL)
        spec = LoadSpec(
            run_.broker,
            "publish",
            {"user": USER, "channel": CHANNEL},
            CLIENTS,
            duration,
            2.0,
            tag="@endurance",
        )
        result = run_load(spec)
    row = level_row(result)
    window = min(WINDOW, max(1, len(result.per_second) // 3))
    first = _rate(result.per_second, slice(0, window))
    last = _rate(result.per_second, slice(-window - 1, -1))  # the last second is partial
    out = {
        "messages": messages,
        "seconds": duration,
        "window": window,
        "first_per_s": round(first, 1),
        "last_per_s": round(last, 1),
        "last_vs_first_pct": round(100 * last / first, 1) if first else None,
        "per_second": result.per_second,
        **{k: row[k] for k in ("clients", "throughput", "p50_ms", "p99_ms", "errors")},
    }
    print(
        f"  endurance: {out['throughput']:.0f} req/s over {duration:.0f}s; first {window}s "
        f"{first:.0f}/s, last {window}s {last:.0f}/s ({out['last_vs_first_pct']} %)",
        flush=True,
    )
    return out
