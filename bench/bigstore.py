"""History latency and server memory with a large store.

The store of a single server is filled directly (EventStore.append in big batches) with one
channel of N messages before the server starts; then `history` is timed through the broker
while the server's resident memory is sampled (psutil) and its peak read from the kernel
(VmHWM)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from actors.event_store import EventStore
from bench.ceiling import level_row
from bench.load import LoadSpec, run_load
from bench.profiling import PySpy
from bench.topology import USER, ClusterRun
from transport.protocol import Event, Operation

CHANNEL = "big"
SERVER = "server-0"
BATCH = 50_000
USERS = 100


def fill(db: Path, messages: int) -> float:
    """Write a login, a channel and `messages` publishes (origin server-0); returns seconds."""
    started = time.monotonic()
    t0 = time.time() - messages * 0.001
    store = EventStore(db)
    try:
        store.append(
            [
                Event(SERVER, 1, 1, Operation.LOGIN, user=USER, timestamp=t0),
                Event(SERVER, 2, 2, Operation.CHANNEL, user=USER, channel=CHANNEL, timestamp=t0),
            ]
        )
        for start in range(3, messages + 3, BATCH):
            stop = min(start + BATCH, messages + 3)
            store.append(
                Event(
                    SERVER,
                    seq,
                    seq,
                    Operation.PUBLISH,
                    user=f"user{seq % USERS}",
                    channel=CHANNEL,
                    message=f"message {seq}: the quick brown fox jumps over the lazy dog",
                    timestamp=t0 + seq * 0.001,
                )
                for seq in range(start, stop)
            )
    finally:
        store.close()
    return time.monotonic() - started


def peak_rss(pid: int) -> float | None:
    """The kernel's high-water mark of the process's resident set, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                self.samples.append(self.proc.memory_info().rss / 2**20)
            except psutil.Error:
                return

    def stop(self) -> list[float]:
        self.halt.set()
        self.join(2)
        return self.samples


def run(
    messages: int, duration: float, warmup: float, work: Path, profile_dir: Path | None = None
) -> dict[str, Any]:
    fill_seconds: list[float] = []

    def prepare(data_dir: Path) -> None:
        print(f"  filling {SERVER}'s store with {messages:,} messages...", flush=True)
        fill_seconds.append(fill(data_dir / f"{SERVER}.sqlite3", messages))
        print(f"  filled in {fill_seconds[0]:.1f}s", flush=True)

    history: list[dict[str, Any]] = []
    with ClusterRun(1, work / "bigstore", prepare=prepare) as run_:
        pid = run_.pid(SERVER)
        rss_ready = psutil.Process(pid).memory_info().rss / 2**20
        sampler = RssSampler(pid)
        sampler.start()
        try:
            run_.channel(CHANNEL)
            for name, clients, page in (("latest", 1, 0), ("paged", 1, messages), ("latest", 8, 0)):
                spec = LoadSpec(
                    run_.broker,
                    "history",
                    {"channel": CHANNEL},
                    clients,
                    duration,
                    warmup,
                    page_below=page,
                )
                spy = (
                    PySpy(pid, profile_dir, f"{SERVER}-history-{name}-c{clients}")
                    if profile_dir is not None and clients == 1
                    else contextlib.nullcontext()
                )
                with spy:
                    row = {"query": name, **level_row(run_load(spec))}
                history.append(row)
                print(
                    f"  history {name:6} {clients:>2} clients: {row['throughput']:>7.0f} req/s "
                    f"p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms",
                    flush=True,
                )
            spec = LoadSpec(
                run_.broker,
                "publish",
                {"user": USER, "channel": CHANNEL},
                8,
                duration,
                warmup,
                tag="@mem",
            )
            writes = level_row(run_load(spec))
        finally:
            samples = sampler.stop()
        rss_end = psutil.Process(pid).memory_info().rss / 2**20
        peak = peak_rss(pid)
        db = run_.data_dir / f"{SERVER}.sqlite3"
        db_mb = sum(p.stat().st_size for p in db.parent.glob(f"{db.name}*")) / 2**20
    memory = {
        "messages": messages,
        "rss_ready_mb": round(rss_ready, 1),
        "rss_sampled_max_mb": round(max(samples, default=rss_end), 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_peak_mb": round(peak if peak is not None else max(samples, default=rss_end), 1),
        "db_mb": round(db_mb, 1),
        "publish_during_run": {k: writes[k] for k in ("clients", "throughput", "p99_ms")},
    }
    print(
        f"  memory: RSS ready {memory['rss_ready_mb']} MB, peak {memory['rss_peak_mb']} MB "
        f"(store {memory['db_mb']} MB)",
        flush=True,
    )
    return {
        "history": {
            "messages": messages,
            "fill_seconds": round(fill_seconds[0], 1),
            "levels": history,
        },
        "memory": memory,
    }
