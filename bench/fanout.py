"""Fan-out: publications per second delivered to 1, 10 and 100 subscribers of one channel,
under the same publish load (3 replicas), each subscriber a SUB socket on the proxy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.load import LoadSpec, run_load
from bench.subscribers import SubscriberGroup
from bench.topology import USER, ClusterRun

GRACE = 1.5


def run(
    counts: tuple[int, ...], clients: int, duration: float, work: Path, replicas: int = 3
) -> dict[str, Any]:
    rows = []
    with ClusterRun(replicas, work / "fanout") as run_:
        for n in counts:
            channel = f"fan{n}"
            run_.channel(channel)
            tag = f"@f{n}"
            procs = 1 if n <= 10 else 2
            with SubscriberGroup(run_.proxy_sub, channel, n, tag, processes=procs) as subs:
                subs.wait_ready(
                    lambda ch=channel: run_.call("publish", user=USER, channel=ch, message="w")
                )
                spec = LoadSpec(
                    run_.broker,
                    "publish",
                    {"user": USER, "channel": channel},
                    clients,
                    duration,
                    warmup=0.0,
                    tag=tag,
                )
                result = run_load(spec)
                time.sleep(GRACE)
                got = subs.stop()
            counts_ = got["counts"]
            acked = result.completed
            span = max(got["last"] - got["first"], 1e-9)
            total = sum(counts_)
            row = {
                "subscribers": n,
                "publishers": clients,
                "published_per_s": round(acked / result.seconds, 1),
                "delivered_per_s_per_subscriber": round(total / len(counts_) / span, 1),
                "deliveries_per_s_total": round(total / span, 1),
                "acked": acked,
                "min_received": min(counts_),
                "max_received": max(counts_),
                "complete_subscribers": sum(1 for c in counts_ if c >= acked),
            }
            rows.append(row)
            print(
                f"  fan-out {n:>3} subscribers: {row['published_per_s']:>7.0f} publishes/s, "
                f"{row['delivered_per_s_per_subscriber']:>7.0f}/s each, "
                f"{row['deliveries_per_s_total']:>8.0f} deliveries/s, "
                f"{row['complete_subscribers']}/{n} got all {acked}",
                flush=True,
            )
    return {"replicas": replicas, "levels": rows}
