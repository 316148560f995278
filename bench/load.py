"""Load generation: a few client processes, each holding many REQ sockets polled together,
so `concurrency` is the number of requests outstanding at any moment.

Each process speaks the protocol itself (bench.wire), measures every request's latency
(send to reply, monotonic clock) and, for publishes, remembers which messages were
acknowledged so that delivery to subscribers can be checked afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import signal
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import zmq

from bench import wire

PAD = "the quick brown fox jumps over the lazy dog"


@dataclass(frozen=True)
class LoadSpec:
    endpoint: str
    service: str
    data: dict[str, Any]
    concurrency: int
    duration: float = 5.0  # measured window, after the warm-up
    warmup: float = 1.0  # requests completed in the warm-up are not measured
    total: int = 0  # > 0: stop after this many requests (duration is then only a cap)
    tag: str = ""  # non-empty: each request's `message` is unique, "<tag>-<proc>-<n> ..."
    timeout: float = 5.0  # a reply later than this is a timeout; the socket is reopened
    page_below: int = 0  # > 0: each request asks for a random page, before_clock < this
    processes: int = 0  # 0: one process below 8 clients, else two


@dataclass
class LoadResult:
    concurrency: int
    seconds: float  # the measured window
    ok: int = 0  # successful replies inside the window
    errors: int = 0  # "erro" replies (whole run)
    timeouts: int = 0  # requests abandoned after spec.timeout (whole run)
    completed: int = 0  # successful replies over the whole run
    latencies: list[float] = field(default_factory=list)  # seconds, inside the window
    acked: list[str] = field(default_factory=list)  # messages acknowledged (whole run)
    error_samples: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds used by the client processes
    started: float = 0.0  # wall clock (time.time) of the start, for log correlation
    window: tuple[float, float] = (0.0, 0.0)  # wall clock of the measured window
    per_second: list[int] = field(default_factory=list)  # successes in each measured second

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def _shares(concurrency: int, processes: int) -> list[int]:
    procs = processes or (1 if concurrency < 8 else 2)
    procs = max(1, min(procs, concurrency))
    return [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]


class _Client:
    """One process's sockets and counters (runs in the child)."""

    def __init__(self, spec: LoadSpec, index: int, sockets: int, quota: int) -> None:
        self.spec, self.index, self.quota = spec, index, quota
        self.ctx = zmq.Context()
        self.poller = zmq.Poller()
        self.inflight: dict[zmq.Socket, tuple[float, str]] = {}
        self.idle: list[zmq.Socket] = [self._open() for _ in range(sockets)]
        self.clock = 0
        self.sent = 0
        self.rng = random.Random(index)
        self.out: dict[str, Any] = {
            "ok": 0,
            "errors": 0,
            "timeouts": 0,
            "completed": 0,
            "latencies": array("d"),
            "acked": [],
            "error_samples": [],
            "per_second": {},
        }

    def _open(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.spec.endpoint)
        return sock

    def _send(self, sock: zmq.Socket, now: float) -> None:
        data = dict(self.spec.data)
        text = ""
        if self.spec.tag:
            text = f"{self.spec.tag}-{self.index}-{self.sent} {PAD}"
            data["message"] = text
        if self.spec.page_below:
            data["before_clock"] = self.rng.randrange(100, self.spec.page_below)
        self.clock += 1
        self.sent += 1
        sock.send(wire.request(self.spec.service, data, self.clock))
        self.inflight[sock] = (now, text)
        self.poller.register(sock, zmq.POLLIN)

    def _may_send(self, now: float, end: float) -> bool:
        return now < end and (not self.quota or self.sent < self.quota)

    def run(self, go: float) -> dict[str, Any]:
        spec = self.spec
        measure_from = go + (0.0 if spec.total else spec.warmup)
        end = measure_from + spec.duration
        now = time.monotonic()
        while self.idle and self._may_send(now, end):
            self._send(self.idle.pop(), now)
        next_check = now + 0.1
        while self.inflight:
            for sock, _ in self.poller.poll(20):
                self._receive(sock, measure_from, end)
            now = time.monotonic()
            if now >= next_check:
                self._expire(now)
                next_check = now + 0.1
            if self._may_send(now, end):
                while self.idle and self._may_send(now, end):
                    self._send(self.idle.pop(), now)
        for sock in self.idle:
            sock.close(0)
        self.ctx.term()
        self.out["measured_until"] = min(end, time.monotonic())
        self.out["latencies"] = self.out["latencies"].tobytes()
        return self.out

    def _receive(self, sock: zmq.Socket, measure_from: float, end: float) -> None:
        frame = sock.recv()
        now = time.monotonic()
        self.poller.unregister(sock)
        sent_at, text = self.inflight.pop(sock)
        data, clock = wire.reply_data(frame)
        self.clock = max(self.clock, clock)
        if wire.ok(data):
            self.out["completed"] += 1
            if text:
                self.out["acked"].append(text)
            if measure_from <= sent_at and now <= end:
                self.out["ok"] += 1
                self.out["latencies"].append(now - sent_at)
                second = int(now - measure_from)
                self.out["per_second"][second] = self.out["per_second"].get(second, 0) + 1
        else:
            self.out["errors"] += 1
            if len(self.out["error_samples"]) < 5:
                self.out["error_samples"].append(str(data.get("description") or data)[:200])
        if self._may_send(now, end):
            self._send(sock, now)
        else:
            self.idle.append(sock)

    def _expire(self, now: float) -> None:
        late = [s for s, (t, _) in self.inflight.items() if now - t > self.spec.timeout]
        for sock in late:
            self.poller.unregister(sock)
            del self.inflight[sock]
            sock.close(0)
            self.out["timeouts"] += 1
            self.idle.append(self._open())


def _child(spec: LoadSpec, index: int, sockets: int, quota: int, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    client = _Client(spec, index, sockets, quota)
    conn.send("ready")
    if not conn.poll(120):
        return
    go = conn.recv()
    cpu = time.process_time()
    out = client.run(go)
    out["cpu"] = time.process_time() - cpu
    conn.send(out)


def run_load(spec: LoadSpec) -> LoadResult:
    """Start the client processes, run the load, merge what they measured."""
    ctx = mp.get_context("spawn")
    shares = _shares(spec.concurrency, spec.processes)
    quotas = [0] * len(shares)
    if spec.total:
        quotas = [
            spec.total // len(shares) + (1 if i < spec.total % len(shares) else 0)
            for i in range(len(shares))
        ]
    procs, conns = [], []
    try:
        for i, share in enumerate(shares):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(spec, i, share, quotas[i], child), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        for conn in conns:
            if not conn.poll(60):
                raise RuntimeError("load client did not start")
            conn.recv()
        started = time.time()
        go = time.monotonic()
        for conn in conns:
            conn.send(go)
        cap = spec.warmup + spec.duration + spec.timeout + 30
        outs = []
        for conn in conns:
            if not conn.poll(max(0.0, go + cap - time.monotonic())):
                raise RuntimeError("load client did not finish")
            outs.append(conn.recv())
    finally:
        for proc in procs:
            proc.join(2)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
    return _merge(spec, outs, started, go)


def _merge(spec: LoadSpec, outs: list[dict[str, Any]], started: float, go: float) -> LoadResult:
    warm = 0.0 if spec.total else spec.warmup
    until = max(o["measured_until"] for o in outs)
    result = LoadResult(spec.concurrency, seconds=max(until - go - warm, 1e-9))
    result.started = started
    result.window = (started + warm, started + (until - go))
    for o in outs:
        result.ok += o["ok"]
        result.errors += o["errors"]
        result.timeouts += o["timeouts"]
        result.completed += o["completed"]
        lat = array("d")
        lat.frombytes(o["latencies"])
        result.latencies.extend(lat)
        result.acked.extend(o["acked"])
        result.error_samples.extend(o["error_samples"])
        result.client_cpu += o["cpu"]
        for second, count in o["per_second"].items():
            result.per_second += [0] * (second + 1 - len(result.per_second))
            result.per_second[second] += count
    return result
