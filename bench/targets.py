"""The issue's targets, judged on figures measured in the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    name: str
    text: str
    goal: float
    unit: str
    at_least: bool  # True: measured >= goal; False: measured <= goal
    measure: Callable[[dict[str, Any]], float | None]


def _level(rows: list[dict[str, Any]], clients: int) -> dict[str, Any] | None:
    return next((r for r in rows if r.get("clients") == clients), None)


def publish_row(res: dict[str, Any], replicas: int, clients: int) -> dict[str, Any] | None:
    run = res.get("publish", {}).get(f"r{replicas}")
    return _level(run["levels"], clients) if run else None


def of_ceiling(res: dict[str, Any], throughput: float, clients: int) -> float | None:
    """`throughput` as a percentage of the ceiling measured at `clients` in the same run."""
    ceiling = _level(res.get("ceiling", {}).get("levels", []), clients)
    if not ceiling or not ceiling["throughput"]:
        return None
    return 100.0 * throughput / ceiling["throughput"]


def cluster_cpu(row: dict[str, Any]) -> float | None:
    """CPU milliseconds per request summed over the cluster's processes (not the clients)."""
    cpu = row.get("cpu_ms_per_request")
    return round(sum(v for k, v in cpu.items() if k != "clients"), 3) if cpu else None


def _ratio(replicas: int) -> Callable[[dict[str, Any]], float | None]:
    def measure(res: dict[str, Any]) -> float | None:
        row = publish_row(res, replicas, 32)
        return of_ceiling(res, row["throughput"], 32) if row else None

    return measure


def _latency(field: str, clients: int) -> Callable[[dict[str, Any]], float | None]:
    def measure(res: dict[str, Any]) -> float | None:
        row = publish_row(res, 3, clients)
        return row[field] if row else None

    return measure


def _cpu(res: dict[str, Any]) -> float | None:
    row = publish_row(res, 3, 32)
    return cluster_cpu(row) if row else None


def _flat(res: dict[str, Any]) -> float | None:
    return res.get("endurance", {}).get("last_vs_first_pct")


def _lag(res: dict[str, Any]) -> float | None:
    return res.get("lag", {}).get("p99_ms")


def _history(res: dict[str, Any]) -> float | None:
    rows = res.get("history", {}).get("levels", [])
    row = next((r for r in rows if r["query"] == "latest" and r["clients"] == 1), None)
    return row["p99_ms"] if row else None


def _catchup(res: dict[str, Any]) -> float | None:
    return res.get("recovery", {}).get("catchup_events_per_s")


def _rss(res: dict[str, Any]) -> float | None:
    return res.get("memory", {}).get("rss_peak_mb")


def _web(res: dict[str, Any]) -> float | None:
    return res.get("web", {}).get("latency", {}).get("p99_ms")


TARGETS = (
    Target("throughput", "3-replica publish at 32 clients vs ceiling", 25.0, "%", True, _ratio(3)),
    Target("stretch", "  stretch goal", 40.0, "%", True, _ratio(3)),
    Target("single", "1-replica publish at 32 clients vs ceiling", 40.0, "%", True, _ratio(1)),
    Target(
        "publish_p99",
        "3-replica publish p99 at 32 clients",
        25.0,
        "ms",
        False,
        _latency("p99_ms", 32),
    ),
    Target(
        "publish_p50", "3-replica publish p50 at 8 clients", 5.0, "ms", False, _latency("p50_ms", 8)
    ),
    Target("cpu", "cluster CPU per 3-replica publish (32 clients)", 0.3, "ms", False, _cpu),
    Target("flat", "last 10 s vs first 10 s of a minute, big store", 90.0, "%", True, _flat),
    Target("lag_p99", "replication lag p99 under that load", 50.0, "ms", False, _lag),
    Target("history_p99", "history p99 (newest page, 1 client)", 5.0, "ms", False, _history),
    Target("catchup", "catch-up rate of a restarted replica", 20000.0, "ev/s", True, _catchup),
    Target("rss", "server peak RSS with the big store", 200.0, "MB", False, _rss),
    Target("web_p99", "web delivery p99, 500 sessions, 50 posts/s", 100.0, "ms", False, _web),
)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for t in TARGETS:
        value = t.measure(results)
        met = None if value is None else (value >= t.goal if t.at_least else value <= t.goal)
        out.append(
            {
                "name": t.name,
                "text": t.text,
                "goal": f"{'>=' if t.at_least else '<='} {t.goal:g} {t.unit}",
                "measured": None if value is None else round(value, 2),
                "unit": t.unit,
                "result": "not run" if met is None else ("met" if met else "missed"),
            }
        )
    return out
