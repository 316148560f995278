"""The options every socket of ours gets, set on purpose rather than inherited."""

from __future__ import annotations

import zmq

from transport.codec import MAX_FRAME_BYTES
from transport.keys import KeyPair

# The sockets' own size limit (ZMQ_MAXMSGSIZE): a frame over MAX_FRAME_BYTES but within this is
# read and refused with an erro that names its service; a larger one makes ZeroMQ drop that
# connection before the frame is in memory.
HARD_FRAME_BYTES = 4 * MAX_FRAME_BYTES
# Messages a socket queues per peer (ZeroMQ's default is 1000).
HWM = 10_000


def configure(sock: zmq.Socket) -> None:
    """No lingering at close, fast reconnects, heartbeats (a peer silent for 3 s is gone),
    the hard frame limit and the high-water marks."""
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    sock.setsockopt(zmq.MAXMSGSIZE, HARD_FRAME_BYTES)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)


def curve_server(sock: zmq.Socket, own: KeyPair, domain: str) -> None:
    """Accept only CURVE handshakes, each checked by the context's ZAP handler under `domain`
    (transport/zap.py). Set before bind: a listener keeps the options it was bound with."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, own.secret)
    sock.setsockopt(zmq.ZAP_DOMAIN, domain.encode())


def curve_client(sock: zmq.Socket, own: KeyPair, server_public: bytes) -> None:
    """Encrypt to, and authenticate, the CURVE server holding `server_public`. Set before
    connect."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_public)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, own.public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, own.secret)
