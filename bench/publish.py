"""Publish path: our cluster (durable, replicated), `publish` at several client counts, with
a subscriber on the proxy checking that every acknowledged publish is delivered."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from bench import lag as lag_mod
from bench.ceiling import level_row
from bench.load import LoadSpec, run_load
from bench.profiling import PySpy
from bench.subscribers import SubscriberGroup
from bench.topology import USER, ClusterRun

CHANNEL = "bench"
GRACE = 1.5  # seconds to let the last publications reach the subscriber


def _cpu_per_request(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    """Milliseconds of CPU each process spent per completed request."""
    n = max(requests, 1)
    return {k: round((after[k] - before.get(k, 0.0)) * 1000 / n, 3) for k in sorted(after)}


def run_cluster(
    replicas: int,
    levels: tuple[int, ...],
    duration: float,
    warmup: float,
    work: Path,
    want_lag: bool = False,
    profile_dir: Path | None = None,
    keys: Path | None = None,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    results = []
    out: dict[str, Any] = {"replicas": replicas, "levels": rows, "secure": keys is not None}
    with ClusterRun(replicas, work / f"publish-r{replicas}", keys=keys) as run:
        run.channel(CHANNEL)
        data = {"user": USER, "channel": CHANNEL}
        with SubscriberGroup(run.proxy_sub, CHANNEL, 1, f"@r{replicas}", record=True) as subs:
            subs.wait_ready(lambda: run.call("publish", user=USER, channel=CHANNEL, message="w"))
            for clients in levels:
                spec = LoadSpec(
                    run.broker,
                    "publish",
                    data,
                    clients,
                    duration,
                    warmup,
                    tag=f"@r{replicas}c{clients}",
                )
                profiling = profile_dir is not None and clients == max(levels)
                spy = (
                    PySpy(run.pid("server-0"), profile_dir, f"server-0-r{replicas}c{clients}")
                    if profiling
                    else contextlib.nullcontext()
                )
                cpu0 = run.cpu_seconds()
                with spy:
                    result = run_load(spec)
                cpu1 = run.cpu_seconds()
                row = level_row(result)
                row["cpu_ms_per_request"] = _cpu_per_request(cpu0, cpu1, result.completed)
                row["cpu_ms_per_request"]["clients"] = round(
                    result.client_cpu * 1000 / max(result.completed, 1), 3
                )
                row["error_samples"] = result.error_samples[:3]
                rows.append(row)
                results.append(result)
                print(
                    f"  publish r{replicas} {clients:>3} clients: {row['throughput']:>8.0f} req/s "
                    f"p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms "
                    f"(errors {row['errors']}, timeouts {row['timeouts']})",
                    flush=True,
                )
            time.sleep(GRACE)
            received = subs.stop()
        texts = received["texts"]
        delivered_set = set(texts)
        for row, result in zip(rows, results, strict=True):
            acked = set(result.acked)
            row["acked"] = len(acked)
            row["delivered"] = len(acked & delivered_set)
            row["missing"] = len(acked) - row["delivered"]
        out["duplicates"] = len(texts) - len(delivered_set)
        out["rss_mb"] = _rss(run)
        if want_lag and replicas > 1:
            window = results[-1].window
            out["lag"] = {
                "clients": results[-1].concurrency,
                **lag_mod.measure({n: run.log(n) for n in run.servers}, window),
            }
    return out


def _rss(run: ClusterRun) -> dict[str, float]:
    import psutil

    out = {}
    for name in run.servers:
        with contextlib.suppress(psutil.Error):
            out[name] = round(psutil.Process(run.pid(name)).memory_info().rss / 2**20, 1)
    return out
