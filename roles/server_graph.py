"""The one wiring of a server's actors: each actor, the routes between them, the timer table,
and where requests and publications that arrive from the network go.

The server role calls it with the socket pump and the real scheduler; the in-process cluster
tests call it with a fake network's transport and a manual scheduler. Nothing here touches a
socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pykka

from actors.base import Node
from actors.chat import ChatActor
from actors.clock_sync import ClockSyncActor
from actors.election import ElectionActor
from actors.membership import MembershipActor
from actors.messages import (
    AcksDue,
    AntiEntropyDue,
    ClientRequests,
    ClockRoundDue,
    CoordinatorCheckDue,
    ElectionTick,
    HeartbeatDue,
    Membership,
    PublishedEvents,
)
from actors.passwords import PasswordActor
from actors.persistence import PersistenceActor
from actors.presence import PresenceActor, PresenceDue
from actors.replication import ReplicationActor
from actors.routes import Routes
from transport import protocol
from transport.port import Inbound, Publication, Transport
from transport.protocol import (
    AdjustRequest,
    ClockRequest,
    CoordinatorAnnounced,
    ElectionRequest,
    PresenceRequest,
    PushRequest,
    Refusal,
    Replicated,
    StatusRequest,
    StoreLimitRequest,
    SyncRequest,
)

# The actor that owns each server-to-server request and publication (docs/protocol.md).
OWNERS: dict[type, str] = {
    ElectionRequest: "election",
    CoordinatorAnnounced: "election",
    ClockRequest: "clock",
    AdjustRequest: "clock",
    PushRequest: "replication",
    SyncRequest: "replication",
    StoreLimitRequest: "persistence",
    PresenceRequest: "presence",
}
SUBSCRIBED_TOPICS = (protocol.SERVERS, protocol.REPLICATION)
# Timers that run once the server serves: (Timing field, actor, message).
TIMERS = (
    ("ack_check_interval", "replication", AcksDue()),
    ("anti_entropy_interval", "replication", AntiEntropyDue()),
    ("election_tick_interval", "election", ElectionTick()),
    ("coordinator_check_interval", "election", CoordinatorCheckDue()),
    ("clock_sync_interval", "clock", ClockRoundDue()),
    ("presence_interval", "presence", PresenceDue()),
)


class Pushers:
    """The origins whose events reach this server by push (itself and its peers): their
    publications on `replication` are dropped unparsed. The membership actor's thread
    rebinds `names` to a new frozenset; the pump's thread only reads it."""

    def __init__(self, me: str) -> None:
        self.me = me
        self.names = frozenset((me,))

    def __call__(self, view: Membership) -> None:
        self.names = frozenset(p.name for p in view.peers) | {self.me}


class Timers(Protocol):
    """Scheduler or ManualScheduler."""

    def every(self, interval: float, callback: Callable[[], None]) -> Any: ...


@dataclass
class ServerGraph:
    """A server's started actors and the entry points the transport calls."""

    node: Node
    transport: Transport
    routes: Routes
    refs: dict[str, pykka.ActorRef]
    first_view: threading.Event
    pushers: Pushers

    def status(self) -> dict[str, Any]:
        """What `bbs status` shows for this server (asks the actors: never on the pump)."""
        ask = {name: self.refs[name].proxy() for name in ("chat", "replication", "membership")}
        return {
            "name": self.node.name,
            "lamport": self.node.lamport.value,
            "coordinator": self.refs["election"].proxy().coordinator.get(timeout=2),
            **ask["membership"].stats().get(timeout=2),
            **self.refs["clock"].proxy().stats().get(timeout=2),
            **ask["replication"].stats().get(timeout=2),
            **ask["chat"].stats().get(timeout=2),
        }

    def on_client_requests(self, inbounds: list[Inbound]) -> None:
        self.routes.tell("chat", ClientRequests(inbounds))

    def on_peer_request(self, inbound: Inbound) -> None:
        request = protocol.parse_peer_request(inbound)
        if isinstance(request, Refusal):
            self.transport.reply(inbound, request.reply)
        elif isinstance(request, StatusRequest):
            self._answer_status(inbound)
        else:
            self.routes.tell(OWNERS[type(request)], request)

    def _answer_status(self, inbound: Inbound) -> None:
        def answer() -> None:
            self.transport.reply(inbound, protocol.status_reply(self.status()))

        threading.Thread(target=answer, name="status", daemon=True).start()

    def on_publications(self, pubs: list[Publication]) -> None:
        """What one round read on the subscriber; its events go to replication together."""
        events = []
        for pub in pubs:
            message = protocol.parse_server_publication(pub.topic, pub.message, self.pushers.names)
            if isinstance(message, Replicated):
                events.append(message.event)
            elif message is not None:
                self.routes.tell(OWNERS[type(message)], message)
        if events:
            self.routes.tell("replication", PublishedEvents(tuple(events)))

    def start_membership(self, timers: Timers) -> None:
        """Register with the reference now and heartbeat from then on."""
        self.routes.tell("membership", HeartbeatDue())
        timers.every(
            self.node.timing.heartbeat_interval, self.routes.sender("membership", HeartbeatDue())
        )

    def catch_up(self, timeout: float) -> bool:
        """Pull from every known peer until none has more; False if that took too long."""
        caught_up = threading.Event()
        self.refs["replication"].proxy().refresh(caught_up.set).get()
        return caught_up.wait(timeout)

    def start_timers(self, timers: Timers) -> None:
        for field, actor, message in TIMERS:
            timers.every(getattr(self.node.timing, field), self.routes.sender(actor, message))


def start_server_actors(
    node: Node,
    transport: Transport,
    routes: Routes,
    db_path: Path | str,
    reference: str,
    advertised: str,
    on_started: Callable[[str, pykka.ActorRef], None] = lambda name, ref: None,
    now: Callable[[], float] = time.monotonic,
    resolve: Callable[[str], str | None] | None = None,
    publish_events: bool = True,
    max_db_mb: float = 0.0,
) -> ServerGraph:
    """Start a server's actors in dependency order: persistence (opens the store, whose
    snapshot seeds the others), then replication, chat, election, clock, membership.
    Each is added to `routes` as it starts, and `on_started` sees it (the role registers its
    stop); `now` is the monotonic time the timeouts use (virtual in tests); `resolve` maps a
    peer's endpoint to one with an IP address (default: transport.endpoints.Resolver);
    `max_db_mb` caps the database (0: no limit); `publish_events` is off in secure mode
    (nothing readable on the `replication` topic)."""
    refs: dict[str, pykka.ActorRef] = {}
    pushers = Pushers(node.name)
    routes.add("pushers", pushers)

    def started(name: str, ref: pykka.ActorRef) -> pykka.ActorRef:
        on_started(name, ref)
        refs[name] = ref
        routes.add(name, ref)
        return ref

    persistence = started(
        "persistence",
        PersistenceActor.start(node, db_path, transport, routes.to("replication"), max_db_mb),
    )
    snapshot = persistence.proxy().snapshot().get()
    first_view = threading.Event()
    replication = ReplicationActor.start(
        node, transport, routes, snapshot.heads, now, publish_events=publish_events
    )
    started("replication", replication)
    started("passwords", PasswordActor.start(node, routes))
    started("presence", PresenceActor.start(node, transport, now))
    chat = ChatActor.start(
        node, transport, routes, snapshot.users, snapshot.channels, accounts=snapshot.accounts
    )
    started("chat", chat)
    started("election", ElectionActor.start(node, transport, routes, now))
    started("clock", ClockSyncActor.start(node, transport, routes, now))
    started(
        "membership",
        MembershipActor.start(node, transport, routes, reference, advertised, first_view, resolve),
    )
    return ServerGraph(node, transport, routes, refs, first_view, pushers)
