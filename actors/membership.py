"""Membership actor: registers with the reference (rank), heartbeats, and polls the list of
live servers, telling the other actors who their peers are. Keeps the last known view while
the reference is down and registers again when it comes back."""

from __future__ import annotations

import threading
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.messages import Membership, Peer, PeerReply, Tick
from actors.routes import Routes
from transport import codec
from transport.port import Transport

LISTENERS = ("replication", "election", "clock")


def default_address(name: str) -> str:
    """A peer's server-to-server endpoint when the reference gave none (the protocol's)."""
    return f"tcp://{name}:5560"


def parse_peers(items: Any, me: str) -> tuple[Peer, ...]:
    """Peers from a `list` reply, tolerating extra keys and missing addresses."""
    peers = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        if name == me:
            continue
        address = item.get("address")
        address = address if isinstance(address, str) and address else default_address(name)
        peers.append(Peer(name, codec.as_int(item.get("rank")), address))
    return tuple(sorted(peers, key=lambda p: p.name))


class MembershipActor(BaseActor):
    actor_name = "membership"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        routes: Routes,
        reference: str,
        advertise: str,
        first_view: threading.Event | None = None,
    ) -> None:
        super().__init__(node)
        self.first_view = first_view or threading.Event()
        self.transport = transport
        self.routes = routes
        self.reference = reference
        self.advertise = advertise
        self.rank: int | None = None
        self.registered = False
        self.busy = False
        self.peers: tuple[Peer, ...] = ()
        self.reference_up = False

    def stats(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "reference_up": self.reference_up,
            "peers": [p.name for p in self.peers],
        }

    def _call(self, service: str, data: dict[str, Any]) -> None:
        tell = self.routes.to("membership")
        timing = self.node.timing
        self.transport.request(
            self.reference,
            service,
            data,
            lambda r: tell(PeerReply(service, "reference", r.ok, r.data)),
            timing.peer_timeout,
            timing.peer_retries,
        )

    @handles(Tick)
    def _tick(self, _: Tick) -> None:
        if self.busy:
            return
        self.busy = True
        if self.registered:
            self._call("heartbeat", {"user": self.node.name})
        else:
            self._call("rank", {"user": self.node.name, "address": self.advertise})

    @handles(PeerReply)
    def _reply(self, r: PeerReply) -> None:
        if not r.ok:
            if self.reference_up:
                self.log.warning("reference_unreachable", service=r.purpose)
            self.reference_up, self.registered, self.busy = False, False, False
            return
        self.reference_up = True
        if r.purpose == "rank":
            rank = r.data.get("rank")
            if isinstance(rank, int) and not isinstance(rank, bool):
                if rank != self.rank:
                    self.log.info("registered", rank=rank, address=self.advertise)
                self.rank, self.registered = rank, True
            self._call("list", {})
        elif r.purpose == "heartbeat":
            if r.data.get("status") == codec.ERROR:
                self.registered = False  # the reference forgot us (restarted): register again
            self._call("list", {})
        elif r.purpose == "list":
            self.busy = False
            peers = parse_peers(r.data.get("list"), self.node.name)
            if peers != self.peers:
                self.log.info("peers_changed", peers=[p.name for p in peers])
            self.peers = peers
            view = Membership(self.rank, peers)
            for name in LISTENERS:
                self.routes.tell(name, view)
            if peers:
                self.first_view.set()
