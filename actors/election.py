"""Election actor: runs the bully state machine over the server-to-server port and the
`servers` topic, and watches the coordinator."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from actors.base import BaseActor, Node, handles
from actors.bully import Announce, Bully, Elected, SendElection
from actors.messages import (
    CoordinatorCheckDue,
    ElectionAnswered,
    ElectionTick,
    Membership,
    PingAnswered,
)
from actors.routes import Routes
from transport import protocol
from transport.port import PUB, Call, Transport
from transport.protocol import CoordinatorAnnounced, ElectionRequest, Peer, Service

REANNOUNCE_EVERY = 3
MAX_STRANGERS = 100  # distinct unknown coordinator names logged


class ElectionActor(BaseActor):
    actor_name = "election"

    def __init__(
        self,
        node: Node,
        transport: Transport,
        routes: Routes,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.routes = routes
        self.now = now
        timing = node.timing
        self.bully = Bully(node.name, timing.election_answer_timeout, timing.announce_timeout)
        self.peers: dict[str, Peer] = {}
        self.pinging = False
        self.checks = 0
        self.strangers: set[str] = set()  # unknown names announced as coordinator

    @property
    def coordinator(self) -> str | None:
        return self.bully.coordinator

    @handles(Membership)
    def _membership(self, m: Membership) -> None:
        self.peers = {p.name: p for p in m.peers}
        self._run(self.bully.set_membership(m.rank, {p.name: p.rank for p in m.peers}, self.now()))

    @handles(ElectionRequest)
    def _election_request(self, e: ElectionRequest) -> None:
        self.transport.reply(e.inbound, protocol.election_reply())
        self._run(self.bully.on_election_request(self.now()))

    @handles(CoordinatorAnnounced)
    def _announced(self, a: CoordinatorAnnounced) -> None:
        stranger = not self.bully.knows(a.name) and a.name not in self.strangers
        if stranger and len(self.strangers) < MAX_STRANGERS:  # logged once per name
            self.strangers.add(a.name)
            self.log.warning("announcement_ignored", coordinator=a.name)
        self._run(self.bully.on_announce(a.name, self.now()))

    @handles(ElectionAnswered)
    def _election_answered(self, r: ElectionAnswered) -> None:
        self._run(self.bully.on_answer(r.ok and protocol.parse_election_reply(r.data), self.now()))

    @handles(PingAnswered)
    def _ping_answered(self, r: PingAnswered) -> None:
        self.pinging = False
        if not r.ok and r.peer == self.bully.coordinator:
            self.log.warning("coordinator_unreachable", coordinator=r.peer)
            self._run(self.bully.on_coordinator_lost(self.now()))

    @handles(ElectionTick)
    def _election_tick(self, _: ElectionTick) -> None:
        self._run(self.bully.on_tick(self.now()))

    @handles(CoordinatorCheckDue)
    def _check_coordinator(self, _: CoordinatorCheckDue) -> None:
        self.checks += 1
        if self.bully.is_coordinator:
            if self.checks % REANNOUNCE_EVERY == 0:
                self._announce()
        elif self.bully.coordinator is not None and not self.pinging:
            coordinator = self.peers.get(self.bully.coordinator)
            if coordinator is None:  # the reference no longer lists it
                self.log.warning("coordinator_unlisted", coordinator=self.bully.coordinator)
                self._run(self.bully.on_coordinator_lost(self.now()))
                return
            self.pinging = True
            timing = self.node.timing
            # `clock` is the cheapest service every server answers: our liveness ping.
            ping = Call(
                coordinator.address,
                Service.CLOCK,
                {},
                timing.peer_timeout,
                timing.peer_retries,
                lane="ping",
            )
            self.call(ping, partial(PingAnswered, coordinator.name))

    def _announce(self) -> None:
        topic, message = protocol.coordinator_announcement(self.node.name, self.node.clock.now())
        self.transport.publish(PUB, topic, message)

    def _run(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, SendElection):
                self.log.info("election_started", to=action.peer)
                call = Call(
                    self.peers[action.peer].address,  # ranks and peers: one Membership
                    Service.ELECTION,
                    {},
                    self.node.timing.election_answer_timeout,
                    0,
                    lane="election",
                )
                self.call(call, partial(ElectionAnswered, action.peer))
            elif isinstance(action, Announce):
                self._announce()
            elif isinstance(action, Elected):
                self.log.info(
                    "coordinator_elected",
                    coordinator=action.coordinator,
                    previous=action.previous,
                    me=action.coordinator == self.node.name,
                )
                self.routes.tell("clock", CoordinatorAnnounced(action.coordinator))
