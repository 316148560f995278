"""Membership actor: registers with the reference (rank), heartbeats, and polls the list of
live servers, telling the other actors who their peers are. Keeps the last known view while
the reference is down and registers again when it comes back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from actors.base import BaseActor, Node, handles
from actors.messages import (
    Answered,
    HeartbeatAnswered,
    HeartbeatDue,
    ListAnswered,
    Membership,
    RankAnswered,
)
from actors.routes import Routes
from transport import protocol
from transport.endpoints import Resolver
from transport.port import Call, Transport
from transport.protocol import Peer, Service

LISTENERS = ("replication", "election", "clock", "pushers", "presence")


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
        resolve: Callable[[str], str | None] | None = None,
    ) -> None:
        """`resolve` turns a peer's endpoint into one with an IP address, or None while it
        does not know (the default looks names up off this thread: transport.endpoints)."""
        super().__init__(node)
        self.resolve = resolve or Resolver()
        self.unresolved: set[str] = set()
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

    def _resolved(self, listed: tuple[Peer, ...]) -> tuple[Peer, ...]:
        """The listed peers whose address is known as an IP (ZeroMQ would otherwise look the
        name up inside its I/O thread); one not resolved yet joins a later view."""
        peers = []
        for peer in listed:
            address = self.resolve(peer.address)
            if address is not None:
                peers.append(replace(peer, address=address))
            elif peer.address not in self.unresolved and len(self.unresolved) < 100:
                self.unresolved.add(peer.address)  # said once per address
                self.log.warning("peer_unresolved", peer=peer.name, address=peer.address)
        return tuple(peers)

    def stats(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "reference_up": self.reference_up,
            "peers": [p.name for p in self.peers],
        }

    def _call(self, service: str, data: dict[str, Any], answer: type[Answered]) -> None:
        timing = self.node.timing
        call = Call(self.reference, service, data, timing.peer_timeout, timing.peer_retries)
        self.call(call, partial(answer, "reference"))

    @handles(HeartbeatDue)
    def _tick(self, _: HeartbeatDue) -> None:
        if self.busy:
            return
        self.busy = True
        if self.registered:
            request = protocol.heartbeat_request(self.node.name)
            self._call(Service.HEARTBEAT, request, HeartbeatAnswered)
        else:
            request = protocol.rank_request(self.node.name, self.advertise)
            self._call(Service.RANK, request, RankAnswered)

    def _reachable(self, r: Answered) -> bool:
        """Whether the reference answered; if not, register again once it is back."""
        if r.ok:
            self.reference_up = True
            return True
        if self.reference_up:
            self.log.warning("reference_unreachable", service=r.response.service)
        self.reference_up, self.registered, self.busy = False, False, False
        return False

    @handles(RankAnswered)
    def _ranked(self, r: RankAnswered) -> None:
        if not self._reachable(r):
            return
        rank = protocol.parse_rank_reply(r.data)
        if rank is not None:
            if rank != self.rank:
                self.log.info("registered", rank=rank, address=self.advertise)
            self.rank, self.registered = rank, True
        self._call(Service.LIST, {}, ListAnswered)

    @handles(HeartbeatAnswered)
    def _heartbeat_answered(self, r: HeartbeatAnswered) -> None:
        if not self._reachable(r):
            return
        if protocol.refused(r.data):
            self.registered = False  # the reference forgot us (restarted): register again
        self._call(Service.LIST, {}, ListAnswered)

    @handles(ListAnswered)
    def _listed(self, r: ListAnswered) -> None:
        if not self._reachable(r):
            return
        self.busy = False
        peers = self._resolved(protocol.parse_list_reply(r.data, self.node.name))
        if peers != self.peers:
            self.log.info("peers_changed", peers=[p.name for p in peers])
        self.peers = peers
        view = Membership(self.rank, peers)
        for name in LISTENERS:
            self.routes.tell(name, view)
        if peers:
            self.first_view.set()
