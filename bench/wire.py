"""The protocol envelope as the benchmark's own clients speak it (protocol.md), and a small
blocking caller for setup requests (Lazy Pirate: on timeout, close, reopen, resend)."""

from __future__ import annotations

import time
from typing import Any

import zmq

from transport import codec, sockets
from transport.keys import KeyPair


def request(service: str, data: dict[str, Any], clock: int) -> bytes:
    """One frame: {"service", "data": {..., "timestamp", "clock"}, "clock"}."""
    return codec.encode(service, data, clock, time.time())


def reply_data(frame: bytes) -> tuple[dict[str, Any], int]:
    """The reply's data map and its Lamport clock ({} and 0 for garbage)."""
    try:
        message, _ = codec.unpack(frame)
    except codec.DecodeError:
        return {}, 0
    if not isinstance(message, dict):
        return {}, 0
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    return data, codec.clock_of(message)


def ok(data: dict[str, Any]) -> bool:
    return data.get("status") in ("OK", "sucesso")


class Caller:
    """Blocking REQ client for setup and probes; not for load."""

    def __init__(
        self,
        ctx: zmq.Context,
        endpoint: str,
        timeout: float = 3.0,
        curve: tuple[KeyPair, bytes] | None = None,
    ) -> None:
        """`curve`: (own pair, the server's public key) for a secure-mode internal port."""
        self.ctx, self.endpoint, self.timeout = ctx, endpoint, timeout
        self.curve = curve
        self.clock = 0
        self.sock: zmq.Socket | None = None

    def _open(self) -> zmq.Socket:
        if self.sock is not None:
            self.sock.close(0)
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            sockets.curve_client(self.sock, *self.curve)
        self.sock.connect(self.endpoint)
        return self.sock

    def call(self, service: str, retries: int = 3, **data: Any) -> dict[str, Any]:
        """The reply's data; raises TimeoutError after `retries` resends."""
        for _ in range(retries + 1):
            sock = self.sock or self._open()
            self.clock += 1
            sock.send(request(service, data, self.clock))
            if sock.poll(int(self.timeout * 1000)):
                reply, clock = reply_data(sock.recv())
                self.clock = max(self.clock, clock)
                return reply
            self._open()
        raise TimeoutError(f"{service} to {self.endpoint}: no reply")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
