"""One request, one reply, or nothing: a fresh REQ socket per call, so a lost reply never
leaves a socket stuck (the Lazy Pirate rule without the retries; the caller decides)."""

from __future__ import annotations

import time
from typing import Any

import zmq

from config.clocks import LamportClock
from transport import codec, sockets
from transport.keys import KeyPair


def call(
    ctx: zmq.Context,
    endpoint: str,
    service: str,
    clock: LamportClock,
    timeout: float = 1.0,
    data: dict[str, Any] | None = None,
    curve: tuple[KeyPair, bytes] | None = None,
) -> dict[str, Any] | None:
    """The reply's `data`, or None when nothing sensible came back within `timeout`.
    `curve`: (own pair, the server's public key) for a secure-mode port."""
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        if curve is not None:
            sockets.curve_client(sock, *curve)
        sock.connect(endpoint)
        sock.send(codec.encode(service, data or {}, clock.tick(), time.time()))
        if not sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        message, _ = codec.unpack(sock.recv())
    except (zmq.ZMQError, codec.DecodeError):
        return None
    finally:
        sock.close(0)
    if not isinstance(message, dict):
        return None
    clock.merge(codec.clock_of(message))
    reply = message.get("data")
    return reply if isinstance(reply, dict) else None
