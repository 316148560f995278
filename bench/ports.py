"""Free loopback ports (runs of them come from roles.cluster.free_base_port)."""

from __future__ import annotations

import contextlib
import socket

from roles.cluster import free_base_port

__all__ = ["endpoints", "free_base_port"]


def endpoints(count: int) -> list[str]:
    """`count` distinct free tcp endpoints on loopback."""
    out: list[str] = []
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            out.append(f"tcp://127.0.0.1:{sock.getsockname()[1]}")
    return out
