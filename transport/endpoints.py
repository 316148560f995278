"""ZeroMQ TCP endpoints that arrive from the network: checked before anything connects.

ZeroMQ resolves a host name inside its I/O thread, where a slow resolver stalls every socket
of the process; so peer addresses handed to the pump are literal IPs, and names are looked
up here, off every socket's thread.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import threading
import time
from collections.abc import Callable

from transport.codec import FieldError

MAX_ENDPOINT_CHARS = 300
_ENDPOINT = re.compile(r"tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def peer_endpoint(value: object) -> str:
    """A server's endpoint `tcp://HOST:PORT` (HOST an IP or a DNS name); FieldError if not.

    Wildcards (`*`), interfaces, other transports and out-of-range ports are refused: an
    endpoint from the network is only ever connected to, never bound.
    """
    if not isinstance(value, str) or len(value) > MAX_ENDPOINT_CHARS:
        raise FieldError("address must be a string tcp://HOST:PORT")
    match = _ENDPOINT.fullmatch(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise FieldError(f"address '{value[:80]}' is not tcp://HOST:PORT")
    host = match["host"]
    if literal_ip(host) is None and not _HOSTNAME.fullmatch(host):
        raise FieldError(f"address '{value[:80]}' has no valid host")
    return value


def literal_ip(host: str) -> str | None:
    """`host` as an IP literal, or None if it is a name."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _lookup(host: str, port: str) -> str | None:
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except OSError:
        return None
    address = str(infos[0][4][0])
    return f"tcp://[{address}]:{port}" if ":" in address else f"tcp://{address}:{port}"


class Resolver:
    """Endpoints with their host names replaced by IP addresses, without ever blocking the
    caller: a name not looked up yet is looked up on a short-lived helper thread (at most
    `parallel` at once) and the call returns None until the answer is in. Answers, a failure
    included, are kept `ttl` seconds; while a stale one is refreshed it is still used."""

    def __init__(
        self,
        ttl: float = 30.0,
        parallel: int = 4,
        now: Callable[[], float] = time.monotonic,
        lookup: Callable[[str, str], str | None] = _lookup,
    ) -> None:
        self.ttl, self.parallel, self.now, self.lookup = ttl, parallel, now, lookup
        self._answers: dict[str, tuple[str | None, float]] = {}
        self._asking: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, endpoint: str) -> str | None:
        match = _ENDPOINT.fullmatch(endpoint)
        if match is None:
            return None
        if literal_ip(match["host"]) is not None:
            return endpoint
        with self._lock:
            answer, at = self._answers.get(endpoint, (None, -math.inf))
            fresh = self.now() - at < self.ttl
            if not fresh and endpoint not in self._asking and len(self._asking) < self.parallel:
                self._asking.add(endpoint)
                threading.Thread(
                    target=self._ask,
                    args=(endpoint, match["host"], match["port"]),
                    name="resolver",
                    daemon=True,
                ).start()
        return answer

    def _ask(self, endpoint: str, host: str, port: str) -> None:
        answer = self.lookup(host, port)
        with self._lock:
            self._answers[endpoint] = (answer, self.now())
            self._asking.discard(endpoint)
