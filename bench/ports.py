"""Free loopback ports: ask the OS for one (bind port 0), check the run of ports after it."""

from __future__ import annotations

import contextlib
import socket

SPAN = 8  # broker 2, proxy 2, reference 1, three server peer ports


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))  # servers bind tcp://*:port
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_base_port(span: int = SPAN, attempts: int = 200) -> int:
    """A port P such that P .. P+span-1 are all free right now."""
    for _ in range(attempts):
        base = free_port()
        if base + span >= 65535:
            continue
        if all(_bindable(base + i) for i in range(span)):
            return base
    raise RuntimeError(f"no run of {span} free ports found")


def endpoints(count: int) -> list[str]:
    """`count` distinct free tcp endpoints on loopback."""
    out: list[str] = []
    with contextlib.ExitStack() as stack:
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            out.append(f"tcp://127.0.0.1:{sock.getsockname()[1]}")
    return out
