"""The ceiling: the same request path with no work behind it.

REQ clients -> ROUTER/DEALER device (zmq.proxy, own process) -> 3 REP worker processes that
decode the msgpack request and encode a msgpack reply. Whatever our cluster adds on top of
this is the cost of our design.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from typing import Any

import msgpack
import zmq

from bench import wire
from bench.load import LoadSpec, run_load
from bench.ports import endpoints
from bench.stats import latency_summary

WORKERS = 3


def _device(front: str, back: str, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx = zmq.Context()
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    router.bind(front)
    dealer.bind(back)
    conn.send("ready")
    zmq.proxy(router, dealer)  # until the parent terminates us


def _worker(back: str, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.connect(back)
    conn.send("ready")
    clock = 0
    while True:
        request = msgpack.unpackb(rep.recv(), raw=False, strict_map_key=False)
        data = request.get("data") or {}
        clock = max(clock, data.get("clock", 0)) + 1
        body = {"status": "OK", "timestamp": time.time(), "clock": clock}
        rep.send(msgpack.packb({"service": request.get("service"), "data": body, "clock": clock}))


class Ceiling:
    """Context manager running the device and the workers; `.endpoint` is for clients."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.workers = workers
        self.endpoint, self.backend = endpoints(2)
        self.procs: list[Any] = []

    def __enter__(self) -> Ceiling:
        ctx = mp.get_context("spawn")
        try:
            targets = [(_device, (self.endpoint, self.backend))]
            targets += [(_worker, (self.backend,))] * self.workers
            for target, args in targets:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=target, args=(*args, child), daemon=True)
                proc.start()
                self.procs.append(proc)
                if not parent.poll(30):
                    raise RuntimeError("ceiling process did not start")
                parent.recv()
            self._probe()
        except BaseException:
            self.close()
            raise
        return self

    def _probe(self) -> None:
        ctx = zmq.Context()
        caller = wire.Caller(ctx, self.endpoint, timeout=2.0)
        try:
            caller.call("publish", retries=5)
        finally:
            caller.close()
            ctx.term()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self.procs = []


def level_row(result: Any) -> dict[str, Any]:
    return {
        "clients": result.concurrency,
        "throughput": round(result.throughput, 1),
        **latency_summary(result.latencies),
        "ok": result.ok,
        "errors": result.errors,
        "timeouts": result.timeouts,
        "client_cpu_s": round(result.client_cpu, 2),
    }


def run(levels: tuple[int, ...], duration: float, warmup: float) -> dict[str, Any]:
    rows = []
    data = {"user": "bench", "channel": "bench", "message": "x"}
    with Ceiling() as ceiling:
        for clients in levels:
            spec = LoadSpec(
                ceiling.endpoint, "publish", data, clients, duration, warmup, tag="ceiling"
            )
            result = run_load(spec)
            result.acked.clear()
            rows.append(level_row(result))
            print(
                f"  ceiling   {clients:>3} clients: {rows[-1]['throughput']:>8.0f} req/s "
                f"p50 {rows[-1]['p50_ms']} ms p99 {rows[-1]['p99_ms']} ms",
                flush=True,
            )
    return {"workers": WORKERS, "levels": rows}
