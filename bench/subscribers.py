"""Subscriber processes: SUB sockets on the proxy's XPUB endpoint, one topic, counting the
publications whose message carries the run's tag (and, if asked, remembering their texts)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

READY_TIMEOUT = 30.0


def _message_text(payload: bytes) -> str:
    try:
        body = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several unrelated types
        return ""
    if not isinstance(body, dict):
        return ""
    text = body.get("message")
    if not isinstance(text, str) and isinstance(body.get("data"), dict):
        text = body["data"].get("message")
    return text if isinstance(text, str) else ""


def _child(endpoint: str, topic: str, count: int, tag: str, record: bool, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    ctx = zmq.Context()
    poller = zmq.Poller()
    socks = []
    for _ in range(count):
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 0)  # measure the system's losses, not ours
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        sock.connect(endpoint)
        poller.register(sock, zmq.POLLIN)
        socks.append(sock)
    index = {s: i for i, s in enumerate(socks)}
    topic_b, tag_b = topic.encode(), tag.encode()
    counts, warm = [0] * count, [False] * count
    texts: list[str] = []
    first = last = 0.0
    ready_sent = False
    while True:
        if conn.poll(0) and conn.recv() == "stop":
            break
        for sock, _ in poller.poll(20):
            i = index[sock]
            for _ in range(200):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if frames[0] != topic_b:
                    continue  # prefix matching: another topic that starts with ours
                if tag_b in frames[-1]:
                    counts[i] += 1
                    last = time.monotonic()
                    first = first or last
                    if record:
                        texts.append(_message_text(frames[-1]))
                else:
                    warm[i] = True
        if not ready_sent and all(warm):
            conn.send("ready")
            ready_sent = True
    for sock in socks:
        sock.close(0)
    ctx.term()
    conn.send({"counts": counts, "texts": texts, "first": first, "last": last})


class SubscriberGroup:
    """`count` subscribers of `topic` spread over `processes` processes."""

    def __init__(
        self,
        endpoint: str,
        topic: str,
        count: int,
        tag: str,
        record: bool = False,
        processes: int = 1,
    ) -> None:
        self.endpoint, self.topic, self.count, self.tag = endpoint, topic, count, tag
        self.record = record
        self.processes = max(1, min(processes, count))
        self.procs: list[Any] = []
        self.conns: list[Any] = []

    def __enter__(self) -> SubscriberGroup:
        ctx = mp.get_context("spawn")
        n = self.processes
        try:
            for i in range(n):
                share = self.count // n + (1 if i < self.count % n else 0)
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_child,
                    args=(self.endpoint, self.topic, share, self.tag, self.record, child),
                    daemon=True,
                )
                proc.start()
                child.close()
                self.procs.append(proc)
                self.conns.append(parent)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, warm: Callable[[], None], timeout: float = READY_TIMEOUT) -> None:
        """Publish warm-up messages (not tagged) until every subscriber has seen one:
        ZeroMQ subscriptions take effect a little after connecting."""
        pending = set(range(len(self.conns)))
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"subscribers of {self.topic} never saw a publication")
            warm()
            for i in list(pending):
                if self.conns[i].poll(0.1):
                    self.conns[i].recv()
                    pending.discard(i)

    def stop(self) -> dict[str, Any]:
        """Per-subscriber counts, the texts (if recorded) and the delivery window."""
        counts: list[int] = []
        texts: list[str] = []
        first, last = [], []
        for conn in self.conns:
            conn.send("stop")
        for conn in self.conns:
            while conn.poll(10):
                out = conn.recv()
                if isinstance(out, dict):
                    counts += out["counts"]
                    texts += out["texts"]
                    if out["first"]:
                        first.append(out["first"])
                        last.append(out["last"])
                    break
        self.close()
        return {
            "counts": counts,
            "texts": texts,
            "first": min(first) if first else 0.0,
            "last": max(last) if last else 0.0,
        }

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send("stop")
        for proc in self.procs:
            proc.join(2)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        self.procs, self.conns = [], []
