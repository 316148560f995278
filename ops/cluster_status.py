"""A snapshot of the cluster: the reference's `list`, then every server's `status` service on
its server-to-server port, asked in parallel with a short timeout (a dead server is simply
not alive; nothing waits longer than the timeout)."""

from __future__ import annotations

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import zmq

from config.clocks import LamportClock
from ops import rpc
from transport.keys import ClusterKeys


@dataclass
class ServerState:
    name: str
    rank: int | None
    address: str | None
    listed: bool  # in the reference's list of live servers right now
    status: dict[str, Any] | None = None  # the `status` reply; None when it did not answer

    @property
    def alive(self) -> bool:
        return self.status is not None

    def get(self, key: str) -> Any:
        return (self.status or {}).get(key)


@dataclass
class Snapshot:
    reference: str
    reference_up: bool
    servers: list[ServerState] = field(default_factory=list)
    taken_at: float = field(default_factory=time.time)
    reference_error: str = ""  # why the reference did not answer, when it did not

    @property
    def coordinators(self) -> dict[str, list[str]]:
        """coordinator name -> the answering servers that name it (servers in the middle of
        an election name none)."""
        named: dict[str, list[str]] = {}
        for server in self.servers:
            coordinator = server.get("coordinator")
            if server.alive and isinstance(coordinator, str):
                named.setdefault(coordinator, []).append(server.name)
        return named

    @property
    def agreed_coordinator(self) -> str | None:
        """The coordinator every answering server names, if they all name the same one."""
        named = self.coordinators
        answering = sum(s.alive for s in self.servers)
        if len(named) == 1:
            ((name, by),) = named.items()
            return name if len(by) == answering else None
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "reference_up": self.reference_up,
            "reference_error": self.reference_error,
            "taken_at": self.taken_at,
            "coordinators": self.coordinators,
            "agreed_coordinator": self.agreed_coordinator,
            "servers": [{**asdict(s), "alive": s.alive} for s in self.servers],
        }


def _listed(reply: dict[str, Any] | None) -> list[ServerState]:
    items = reply.get("list") if reply else None
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            rank = item.get("rank")
            address = item.get("address")
            out.append(
                ServerState(
                    item["name"],
                    rank if isinstance(rank, int) else None,
                    address if isinstance(address, str) else None,
                    listed=True,
                )
            )
    return out


def collect(
    reference: str,
    timeout: float = 1.0,
    previous: Snapshot | None = None,
    ctx: zmq.Context | None = None,
    keys: ClusterKeys | None = None,
) -> Snapshot:
    """Ask the reference and every server it lists; servers of `previous` that left the list
    are asked too (so a server that died between two refreshes shows as not alive). In
    secure mode (`keys`) it asks as a server, the one key the internal ports accept."""
    ctx = ctx or zmq.Context.instance()
    clock = LamportClock()
    to_reference = keys.as_server("reference") if keys is not None else None
    to_server = keys.as_server("server") if keys is not None else None
    reply = rpc.call(ctx, reference, "list", clock, timeout, curve=to_reference)
    servers = _listed(reply)
    names = {s.name for s in servers}
    for old in previous.servers if previous else []:
        if old.name not in names:
            servers.append(ServerState(old.name, old.rank, old.address, listed=False))
    with ThreadPoolExecutor(max_workers=max(1, len(servers))) as pool:
        replies = pool.map(
            lambda s: (
                rpc.call(ctx, s.address, "status", clock, timeout, curve=to_server)
                if s.address
                else None
            ),
            servers,
        )
        for server, status in zip(servers, replies, strict=True):
            server.status = status
    servers.sort(key=lambda s: (s.rank is None, s.rank or 0, s.name))
    error = "" if reply is not None else unreachable_because(reference, timeout)
    return Snapshot(reference, reply is not None, servers, reference_error=error)


def unreachable_because(endpoint: str, timeout: float) -> str:
    """Why nothing answered at `endpoint`, as far as can be told from here."""
    match = re.fullmatch(r"tcp://\[?([^\]]+?)\]?:(\d+)", endpoint)
    if match is None:
        return f"{endpoint!r} is not tcp://HOST:PORT"
    host, port = match.groups()
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except OSError:
        return f"the host name {host!r} does not resolve here"
    return f"no answer within {timeout:g} s (nothing listens there, or it is not a reference)"
