"""ZeroMQ TCP endpoints that arrive from the network: checked before anything connects.

ZeroMQ resolves a host name inside its I/O thread, where a slow resolver stalls every socket
of the process; so addresses handed to the pump are literal IPs, and names are resolved
here, on the caller's thread, with a time bound.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading

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


def resolved(endpoint: str, timeout: float) -> str | None:
    """`endpoint` with its host name replaced by an IP address (looked up on a helper thread,
    waiting at most `timeout` seconds); the endpoint itself if already literal; None if the
    name does not resolve in time."""
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        return None
    host, port = match["host"], match["port"]
    if literal_ip(host) is not None:
        return endpoint
    found: list[str] = []

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError:
            return
        found.extend(str(info[4][0]) for info in infos)

    worker = threading.Thread(target=look_up, name="resolver", daemon=True)
    worker.start()
    worker.join(timeout)
    if not found:
        return None
    address = found[0]
    return f"tcp://[{address}]:{port}" if ":" in address else f"tcp://{address}:{port}"
