"""What actors need from the transport, and the values that cross it.

The socket pump implements `Transport`; tests substitute a fake. Actors import this module,
never the pump.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from transport import codec

# Keys of the sockets a process publishes and subscribes on (the roles open them by these).
PUB = "pub"
SUB = "sub"


@dataclass(frozen=True)
class Inbound:
    """A request received on a serving socket; answer it with Transport.reply."""

    key: str
    token: int
    request: codec.Request
    sender: bytes = b""  # the client connection (its routing id at the broker), for fairness
    received: float = 0.0  # when the pump read it (time.monotonic); 0: not from a pump


@dataclass(frozen=True)
class Publication:
    key: str
    topic: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """A publication to send on socket `key`; `clock` None: stamped with a new tick."""

    key: str
    topic: str
    message: dict[str, Any]
    clock: int | None = None


@dataclass(frozen=True)
class Call:
    """An outgoing request, retried Lazy-Pirate style: `retries` resends after `timeout`
    seconds each. Calls to one endpoint in one lane go one at a time; separate lanes keep a
    slow conversation from delaying another (a liveness ping behind a bulk catch-up)."""

    endpoint: str
    service: str
    data: dict[str, Any]
    timeout: float
    retries: int
    lane: str = ""


@dataclass(frozen=True)
class Response:
    """Outcome of a Call: ok with the reply's data, or not ok with a reason."""

    ok: bool
    endpoint: str
    service: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    rtt: float = 0.0


class Transport(Protocol):
    def reply(self, inbound: Inbound, data: dict[str, Any]) -> None: ...

    def publish(
        self, key: str, topic: str, message: dict[str, Any], clock: int | None = None
    ) -> None: ...

    def send_batch(
        self, replies: list[tuple[Inbound, dict[str, Any]]], publications: list[Outgoing]
    ) -> None:
        """The replies and publications of one batch, in this order."""
        ...

    def request(self, call: Call, on_done: Callable[[Response], None]) -> None:
        """Send `call`; `on_done` gets the Response on the transport's thread, so it must
        only hand over (BaseActor.call does that)."""
        ...

    def subscribe(self, key: str, topic: str, on: bool = True) -> None: ...
