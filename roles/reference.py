"""The reference role: ranks, the list of live servers, heartbeats."""

from __future__ import annotations

from pathlib import Path

import structlog

from actors.base import Node
from actors.messages import ClientRequest, ExpiryDue
from actors.registry import RegistryActor
from actors.scheduler import Scheduler
from roles.assembly import Assembly
from transport.keys import Curve
from transport.pump import Pump


def build(node: Node, bind: str, data_dir: str = "", curve: Curve | None = None) -> Assembly:
    """The reference; with `curve` it answers allow-listed servers only."""
    with Assembly().unwinding() as assembly:
        _assemble(node, bind, data_dir, curve, assembly)
    return assembly


def _assemble(
    node: Node, bind: str, data_dir: str, curve: Curve | None, assembly: Assembly
) -> None:
    pump = Pump.start(node, curve)
    assembly.add_actor("pump", pump.ref)
    book = Path(data_dir) / "reference-ranks.json" if data_dir else None
    if book is not None:
        book.parent.mkdir(parents=True, exist_ok=True)
    registry = assembly.add_actor("registry", RegistryActor.start(node, pump, book))
    pump.serve(
        "servers",
        bind,
        bind=True,
        hops=1,
        on_request=lambda inbound: registry.tell(ClientRequest(inbound)),
    )
    pump.ready()
    structlog.get_logger().info("reference_serving", bind=bind)  # `bbs up` waits for it
    scheduler = Scheduler()
    assembly.add("scheduler", scheduler.stop)
    scheduler.every(node.timing.heartbeat_interval, lambda: registry.tell(ExpiryDue()))
