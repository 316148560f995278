"""The server role: one replica, assembled from its actors.

Start order: persistence (opens the store) -> replication, chat -> election, clock ->
membership; then the pump opens the peer port and the proxy sockets, the server learns its
peers from the reference, catches up from them, and only then connects to the broker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import structlog

from actors.base import Node
from actors.chat import ChatActor
from actors.clock_sync import ClockSyncActor
from actors.election import ElectionActor
from actors.events import Event
from actors.membership import MembershipActor
from actors.messages import ClientRequest, CoordinatorAnnounced, PeerRequest, Replicated, Tick
from actors.persistence import PersistenceActor
from actors.replication import ReplicationActor
from actors.routes import Routes
from actors.scheduler import Scheduler
from config.settings import ServerSettings
from roles.assembly import Assembly
from transport import codec
from transport.pump import Inbound, Publication, Pump

log = structlog.get_logger()

PEER_SERVICES = {
    "election": "election",
    "clock": "clock",
    "adjust": "clock",
    "replicate": "replication",
    "sync": "replication",
    "status": "status",
}


@dataclass
class Server:
    node: Node
    assembly: Assembly
    refs: dict[str, Any]

    def status(self) -> dict[str, Any]:
        chat = self.refs["chat"].proxy().stats().get(timeout=2)
        replication = self.refs["replication"].proxy().stats().get(timeout=2)
        membership = self.refs["membership"].proxy().stats().get(timeout=2)
        clock = self.refs["clock"].proxy().stats().get(timeout=2)
        coordinator = self.refs["election"].proxy().coordinator.get(timeout=2)
        return {
            "name": self.node.name,
            "lamport": self.node.lamport.value,
            "coordinator": coordinator,
            **membership,
            **clock,
            **replication,
            **chat,
        }


def _on_publication(routes: Routes, pub: Publication) -> None:
    message = pub.message
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    if pub.topic == "servers" and message.get("service") == "election":
        name = data.get("coordinator", message.get("coordinator"))
        if isinstance(name, str) and name:
            routes.tell("election", CoordinatorAnnounced(name))
    elif pub.topic == "replication" and message.get("service") == "replication":
        event = Event.from_replication(data)
        if event is not None:
            routes.tell("replication", Replicated(event))


def build(settings: ServerSettings, node: Node | None = None) -> Server:
    """Start a server; if any part fails (a port in use...), stop what started and raise."""
    node = node or Node("server", settings.name, timing=settings.timing)
    with Assembly().unwinding() as assembly:
        return _assemble(settings, node, assembly)


def _assemble(settings: ServerSettings, node: Node, assembly: Assembly) -> Server:
    timing = node.timing
    pump = Pump("server", node.name, node.lamport, node.clock, timing.request_deadline)
    routes = Routes()
    scheduler = Scheduler()
    assembly.add("scheduler", scheduler.stop)
    first_view = threading.Event()

    persistence = assembly.add_actor(
        "persistence",
        PersistenceActor.start(node, settings.db_path, pump, routes.to("replication")),
    )
    snapshot = persistence.proxy().snapshot().get()
    refs: dict[str, Any] = {
        "persistence": persistence,
        "replication": ReplicationActor.start(node, pump, routes, snapshot.heads),
        "chat": ChatActor.start(node, pump, routes, snapshot.users, snapshot.channels),
        "election": ElectionActor.start(node, pump, routes),
        "clock": ClockSyncActor.start(node, pump, routes),
        "membership": MembershipActor.start(
            node, pump, routes, settings.reference, settings.advertised, first_view
        ),
    }
    for name, ref in refs.items():
        if name != "persistence":
            assembly.add_actor(name, ref)
        routes.add(name, ref)
    server = Server(node, assembly, refs)

    def answer_status(p: PeerRequest) -> None:  # asks actors, so never on the pump thread
        threading.Thread(
            target=lambda: pump.reply(p.inbound, {"status": codec.OK, **server.status()}),
            name="status",
            daemon=True,
        ).start()

    routes.add("status", answer_status)

    def on_peer_request(inbound: Inbound) -> None:
        target = PEER_SERVICES.get(inbound.request.service)
        if target is None:
            pump.reply(inbound, codec.error_data(f"unknown service '{inbound.request.service}'"))
        else:
            routes.tell(target, PeerRequest(inbound))

    pump.serve("peer", settings.peer_bind, bind=True, hops=1, on_request=on_peer_request)
    pump.publisher("pub", settings.proxy_pub)
    pump.subscriber(
        "sub",
        settings.proxy_sub,
        ["servers", "replication"],
        lambda pub: _on_publication(routes, pub),
    )
    assembly.add("pump", pump.stop)
    pump.start()

    def every(interval: float, actor: str, what: str) -> None:
        scheduler.every(interval, lambda: routes.tell(actor, Tick(what)))

    routes.tell("membership", Tick("heartbeat"))
    every(timing.heartbeat_interval, "membership", "heartbeat")
    # Wait (bounded) to know at least one peer: at a cold start of the whole cluster, a server
    # that served before its peers registered would acknowledge writes on its own disk only.
    if not first_view.wait(timing.startup_catchup_timeout):
        log.warning("starting_without_peers")
    caught_up = threading.Event()
    refs["replication"].proxy().refresh(caught_up.set).get()
    if not caught_up.wait(timing.startup_catchup_timeout * 10):
        log.warning("startup_catchup_incomplete")
    every(0.05, "replication", "acks")
    every(timing.heartbeat_interval * 2, "replication", "anti_entropy")
    every(0.1, "election", "election")
    every(timing.coordinator_check_interval, "election", "check")
    every(timing.clock_sync_interval, "clock", "sync")
    pump.serve(
        "clients",
        settings.broker_backend,
        bind=False,
        hops=2,
        on_request=lambda inbound: routes.tell("chat", ClientRequest(inbound)),
    )
    pump.ready()
    log.info(
        "server_serving",
        broker=settings.broker_backend,
        peer=settings.advertised,
        db=str(settings.db_path),
    )
    return server
