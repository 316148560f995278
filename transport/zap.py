"""ZeroMQ's authentication hook (ZAP) for secure mode: which CURVE keys may connect.

libzmq asks the socket bound at inproc://zeromq.zap.01 in the connecting socket's context
about every handshake; a CURVE server socket names its domain (ZMQ_ZAP_DOMAIN):

- `cluster`: only the allow-listed public keys (the cluster's internal ports);
- `clients`: any key (an encrypted link for clients, no authentication).

Anything else (another domain, another mechanism) is refused. The handler's socket belongs to
one thread: the pump's (it polls `socket` with its other sockets), or a `ZapThread` for the
devices, whose own thread is inside zmq.proxy_steerable.
"""

from __future__ import annotations

import threading

import structlog
import zmq
from zmq.utils import z85

log = structlog.get_logger()

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
CLUSTER = "cluster"
CLIENTS = "clients"


class ZapHandler:
    def __init__(self, ctx: zmq.Context, allowed: frozenset[bytes]) -> None:
        self.allowed = allowed
        self.socket = ctx.socket(zmq.REP)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(ZAP_ENDPOINT)

    def decide(self, domain: bytes, mechanism: bytes, credentials: list[bytes]) -> bool:
        if mechanism != b"CURVE" or len(credentials) != 1:
            return False
        if domain == CLIENTS.encode():
            return True
        return domain == CLUSTER.encode() and z85.encode(credentials[0]) in self.allowed

    def handle(self, frames: list[bytes]) -> None:
        """Answer one ZAP request (version, id, domain, address, identity, mechanism,
        credentials...)."""
        padded = [*frames, b"", b"", b"", b"", b"", b""]  # a REP must answer even nonsense
        version, request_id, domain, address, _, mechanism = padded[:6]
        ok = len(frames) >= 6 and self.decide(domain, mechanism, frames[6:])
        if not ok:
            log.warning(
                "connection_refused",
                domain=domain.decode(errors="replace"),
                address=address.decode(errors="replace"),
            )
        status = [b"200", b"OK"] if ok else [b"400", b"not allowed"]
        self.socket.send_multipart([version, request_id, *status, b"", b""])

    def close(self) -> None:
        self.socket.close(0)


class ZapThread:
    """A ZapHandler in a thread of its own, for a context whose sockets all live in a device
    thread."""

    def __init__(self, ctx: zmq.Context, allowed: frozenset[bytes]) -> None:
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ctx, allowed), name="zap", daemon=True
        )
        self._thread.start()
        self._bound.wait(5)  # bound before any CURVE socket of the context listens

    def _run(self, ctx: zmq.Context, allowed: frozenset[bytes]) -> None:
        handler = ZapHandler(ctx, allowed)
        self._bound.set()
        try:
            while not self._stop.is_set():
                if handler.socket.poll(100):
                    handler.handle(handler.socket.recv_multipart())
        finally:
            handler.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
