"""The options every socket of ours gets, set on purpose rather than inherited."""

from __future__ import annotations

import zmq

from transport.codec import MAX_FRAME_BYTES

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
