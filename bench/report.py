"""The plain-text results table."""

from __future__ import annotations

from typing import Any

from bench import baseline
from bench.targets import cluster_cpu, of_ceiling


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        first = r[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])

    return [line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]]


def render(res: dict[str, Any]) -> str:
    meta = res["meta"]
    out = [
        f"BBS benchmark  {meta['date']}  {meta['machine']}  "
        f"{'quick' if meta['quick'] else 'full'} run ({meta['duration']}s per level)",
        f"load average (1 min) at start {meta.get('loadavg_start', '-')}, "
        f"at end {meta.get('loadavg_end', '-')} (other work on the machine shows here)",
        "",
    ]
    rows: list[list[Any]] = []
    for row in res.get("ceiling", {}).get("levels", []):
        rows.append(
            [
                "ceiling (no work)",
                row["clients"],
                row["throughput"],
                100.0,
                row["p50_ms"],
                row["p99_ms"],
                None,
                None,
                row["errors"] + row["timeouts"],
                None,
            ]
        )
    for key in ("r1", "r3"):
        run = res.get("publish", {}).get(key)
        for row in run["levels"] if run else []:
            rows.append(
                [
                    f"publish {key[1]} replica(s)",
                    row["clients"],
                    row["throughput"],
                    of_ceiling(res, row["throughput"], row["clients"]),
                    row["p50_ms"],
                    row["p99_ms"],
                    row["acked"],
                    row["delivered"],
                    row["errors"] + row["timeouts"],
                    cluster_cpu(row),
                ]
            )
    if rows:
        out += ["Request path: throughput and latency by concurrent clients"]
        out += _table(
            [
                "path",
                "clients",
                "req/s",
                "% of ceiling",
                "p50 ms",
                "p99 ms",
                "acked",
                "delivered",
                "err",
                "cluster CPU ms/req",
            ],
            rows,
        )
        out.append(baseline.line(res))
        out.append("")
    endurance = res.get("endurance")
    if endurance:
        out += [
            f"Endurance: 3 replicas holding {endurance['messages']:,} messages, "
            f"{endurance['clients']} clients for {endurance['seconds']:g}s"
        ]
        out += _table(
            ["req/s", "p50 ms", "p99 ms", "first req/s", "last req/s", "last vs first %"],
            [
                [
                    endurance["throughput"],
                    endurance["p50_ms"],
                    endurance["p99_ms"],
                    endurance["first_per_s"],
                    endurance["last_per_s"],
                    endurance["last_vs_first_pct"],
                ]
            ],
        )
        out.append("")
    lag = res.get("lag")
    if lag:
        out += [
            f"Replication lag, publish ack -> on every replica ({lag['clients']} clients, "
            f"3 replicas, {lag['events']:,} events)"
        ]
        out += _table(
            ["", "p50 ms", "p99 ms", "max ms"],
            [
                ["lag (negative counted as 0)", lag["p50_ms"], lag["p99_ms"], lag["max_ms"]],
                [
                    "signed (last replica apply - ack)",
                    lag["signed_p50_ms"],
                    lag["signed_p99_ms"],
                    None,
                ],
                [
                    "durable on origin -> on every replica",
                    lag.get("stored_to_replicas_p50_ms"),
                    lag.get("stored_to_replicas_p99_ms"),
                    lag.get("stored_to_replicas_max_ms"),
                ],
            ],
        )
        out.append(
            f"  applied everywhere before the ack: {lag['applied_before_ack']:,}; "
            f"missing on a replica: {lag['not_on_every_replica']}"
        )
        out.append("")
    fan = res.get("fanout", {}).get("levels")
    if fan:
        out += ["Fan-out: one channel, 3 replicas, 32 publishing clients"]
        out += _table(
            ["subscribers", "publishes/s", "delivered/s each", "deliveries/s", "complete"],
            [
                [
                    r["subscribers"],
                    r["published_per_s"],
                    r["delivered_per_s_per_subscriber"],
                    r["deliveries_per_s_total"],
                    f"{r['complete_subscribers']}/{r['subscribers']}",
                ]
                for r in fan
            ],
        )
        out.append("")
    rec = res.get("recovery")
    if rec:
        out += ["Recovery of a killed replica"]
        out += _table(
            ["", "value"],
            [
                ["events written while it was down", rec["events_written"]],
                ["events applied after restart", rec["events_applied_after_restart"]],
                ["catch-up seconds (store opened -> last applied)", rec["catchup_seconds"]],
                ["catch-up events/s", rec["catchup_events_per_s"]],
                ["server's catchup_done events/s", rec["server_catchup_done"]["events_per_s"]],
                ["process start -> serving clients (s)", rec["start_to_serving_s"]],
                ["process start -> fully caught up (s)", rec["start_to_caught_up_s"]],
            ],
        )
        out.append("")
    hist = res.get("history")
    if hist:
        out += [f"History: channel with {hist['messages']:,} stored messages (1 server)"]
        out += _table(
            ["query", "clients", "req/s", "p50 ms", "p99 ms"],
            [
                [r["query"], r["clients"], r["throughput"], r["p50_ms"], r["p99_ms"]]
                for r in hist["levels"]
            ],
        )
        out.append("")
    mem = res.get("memory")
    if mem:
        out += [
            f"Memory: server with {mem['messages']:,} stored messages "
            f"(store {mem['db_mb']} MB on disk)"
        ]
        out += _table(
            ["", "MB"],
            [["RSS when serving", mem["rss_ready_mb"]], ["peak RSS (VmHWM)", mem["rss_peak_mb"]]],
        )
        out.append("")
    out += ["Targets"]
    out += _table(
        ["target", "measured", "goal", "result"],
        [
            [
                t["text"],
                f"{_fmt(t['measured'])} {t['unit']}" if t["measured"] is not None else "-",
                t["goal"],
                t["result"],
            ]
            for t in res["targets"]
        ],
    )
    return "\n".join(out) + "\n"
