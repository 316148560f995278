"""Session actor of a client or bot: requests through the broker (Lazy Pirate in the pump),
subscriptions through the proxy, and exact-topic filtering of what arrives."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from actors.base import BaseActor, Node, handles
from transport import protocol
from transport.port import SUB, Call, Publication, Response, Transport
from transport.protocol import Delivery


class Unreachable(RuntimeError):
    """The cluster did not answer after every retry."""


@dataclass(frozen=True)
class ClusterRequest:
    service: str
    data: dict[str, Any]
    result: Future
    token: str = ""  # the session token of a claimed name


@dataclass(frozen=True)
class CallDone:
    response: Response
    result: Future


@dataclass(frozen=True)
class Subscribe:
    topic: str
    on: bool = True


@dataclass(frozen=True)
class UseKey:
    """Open the sealed private messages that arrive with this private key."""

    private_key: bytes


@dataclass(frozen=True)
class Incoming:
    """A publication as it came off the wire (possibly for a topic we do not want)."""

    publication: Publication


class SessionActor(BaseActor):
    actor_name = "session"

    def __init__(
        self, node: Node, transport: Transport, broker: str, on_delivery: Callable[[Delivery], None]
    ) -> None:
        super().__init__(node)
        self.transport = transport
        self.broker = broker
        self.on_delivery = on_delivery
        self.topics: set[str] = set()
        self.dropped = 0
        self.private_key = b""

    @handles(UseKey)
    def _use_key(self, k: UseKey) -> None:
        self.private_key = k.private_key

    @handles(ClusterRequest)
    def _call(self, c: ClusterRequest) -> None:
        timing = self.node.timing
        data = protocol.client_request(c.service, c.data, c.token)
        call = Call(self.broker, c.service, data, timing.request_timeout, timing.request_retries)
        self.call(call, lambda response: CallDone(response, c.result))

    @handles(CallDone)
    def _done(self, d: CallDone) -> None:
        if d.response.ok:
            d.result.set_result(d.response.data)
        else:
            self.log.warning(
                "cluster_unreachable", service=d.response.service, reason=d.response.error
            )
            d.result.set_exception(
                Unreachable(f"no answer from the cluster at {self.broker} ({d.response.error})")
            )

    @handles(Subscribe)
    def _subscribe(self, s: Subscribe) -> None:
        if s.on and s.topic not in self.topics:
            self.topics.add(s.topic)
            self.transport.subscribe(SUB, s.topic, True)
        elif not s.on and s.topic in self.topics:
            self.topics.discard(s.topic)
            self.transport.subscribe(SUB, s.topic, False)

    @handles(Incoming)
    def _incoming(self, i: Incoming) -> None:
        # ZeroMQ matches prefixes: a subscriber of `ana` also receives `anabel`.
        if i.publication.topic not in self.topics:
            self.dropped += 1
            return
        delivery = protocol.parse_delivery(i.publication.topic, i.publication.message)
        if delivery.sealed and self.private_key:
            delivery = delivery.opened(self.private_key)
        self.on_delivery(delivery)
