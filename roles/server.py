"""The server role: one replica, its actors wired by roles.server_graph, behind the pump.

Start order: the pump (every actor holds it as its transport), the actors (persistence
first); then the pump opens the peer port and the proxy sockets, the server learns its peers
from the reference, catches up from them, and only then connects to the broker. Stopped in
reverse, the pump last.
"""

from __future__ import annotations

import time

import structlog

from actors.base import Node
from actors.routes import Routes
from actors.scheduler import Scheduler
from config.settings import ServerSettings, loopback_warning
from roles.assembly import Assembly
from roles.secure import server_curve
from roles.server_graph import SUBSCRIBED_TOPICS, start_server_actors
from transport.port import PUB, SUB
from transport.pump import Pump

log = structlog.get_logger()


def build(settings: ServerSettings, node: Node | None = None) -> Assembly:
    """Start a server; if any part fails (a port in use...), stop what started and raise."""
    node = node or Node("server", settings.name, timing=settings.timing)
    with Assembly().unwinding() as assembly:
        _assemble(settings, node, assembly)
    return assembly


def _assemble(settings: ServerSettings, node: Node, assembly: Assembly) -> None:
    timing = node.timing
    warning = loopback_warning(settings)
    if warning:
        log.warning("advertised_address_is_loopback", advertise=settings.advertised, hint=warning)
    pump = Pump.start(node, server_curve(settings))
    assembly.add_actor("pump", pump.ref)
    scheduler = Scheduler()
    assembly.add("scheduler", scheduler.stop)
    graph = start_server_actors(
        node,
        pump,
        Routes(),
        settings.db_path,
        settings.reference,
        settings.advertised,
        on_started=assembly.add_actor,
        max_db_mb=settings.max_db_mb,
        publish_events=not settings.keys,
    )
    pump.serve("peer", settings.peer_bind, bind=True, hops=1, on_request=graph.on_peer_request)
    pump.publisher(PUB, settings.proxy_pub)
    topics = list(SUBSCRIBED_TOPICS)
    pump.subscriber_batches(SUB, settings.proxy_sub, topics, graph.on_publications)
    pump.ready()
    publisher_opened = time.monotonic()

    graph.start_membership(scheduler)
    # Wait (bounded) to know at least one peer: at a cold start of the whole cluster, a server
    # that served before its peers registered would acknowledge writes on its own disk only.
    if not graph.first_view.wait(timing.startup_catchup_timeout):
        log.warning("starting_without_peers")
    if not graph.catch_up(timing.startup_catchup_timeout * 10):
        log.warning("startup_catchup_incomplete")
    graph.start_timers(scheduler)
    time.sleep(max(0.0, timing.publisher_warmup - (time.monotonic() - publisher_opened)))
    pump.serve_batches(
        "clients", settings.broker_backend, bind=False, hops=2, on_requests=graph.on_client_requests
    )
    pump.ready()
    log.info(
        "server_serving",
        broker=settings.broker_backend,
        peer=settings.advertised,
        db=str(settings.db_path),
    )
